"""The storable rule of every request (shared/schemas.py): what it refuses, where it says the
problem is, and that the cheap scan of the raw bytes never lets a problem through."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.events.schemas import EventBatchCreate, EventCreate
from shared.executions.schemas import ExecutionQuery
from shared.schemas import INT64_MAX, INT64_MIN, MAX_JSON_DEPTH, may_be_unstorable, unstorable


def nested(depth: int, leaf: Any = 1, *, key: str = "a") -> Any:
    """JSON ``depth`` containers deep: objects and arrays by turns, an object outermost."""
    value = leaf
    for level in range(depth):
        value = {key: value} if (depth - level) % 2 == 1 else [value]
    return value


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"payload": {"k": "a\x00b"}}, ("payload", "k"), "string_nul"),
        ({"payload": {"a\x00": 1}}, ("payload", "a\\u0000"), "string_nul"),
        ({"x\x00": 1}, ("x\\u0000",), "string_nul"),
        ({"payload": {"list": [1, "ok", "\x00"]}}, ("payload", "list", 2), "string_nul"),
        ({"payload": {"n": 2**64}}, ("payload", "n"), "int_range"),
        ({"payload": {"n": INT64_MAX + 1}}, ("payload", "n"), "int_range"),
        ({"payload": {"n": [INT64_MIN - 1]}}, ("payload", "n", 0), "int_range"),
    ],
)
def test_each_problem_is_named_where_it_is(
    body: dict[str, Any], loc: tuple[Any, ...], kind: str
) -> None:
    problem = unstorable(body)
    assert problem is not None
    assert problem[:2] == (loc, kind)


def test_depth_is_counted_from_the_body() -> None:
    assert unstorable(nested(MAX_JSON_DEPTH)) is None
    assert unstorable(nested(MAX_JSON_DEPTH - 1, leaf=[])) is None
    too_deep = unstorable(nested(MAX_JSON_DEPTH + 1))
    assert too_deep is not None
    assert too_deep[1] == "json_too_deep"
    assert len(too_deep[0]) == MAX_JSON_DEPTH
    # an empty container counts as a level too
    assert unstorable(nested(MAX_JSON_DEPTH, leaf={})) is not None


def test_what_fits_is_accepted() -> None:
    body = {"payload": {"n": [INT64_MIN, INT64_MAX, 1.5e300, -0.0], "s": "\\u0000 is text here"}}
    assert unstorable(body) is None
    assert unstorable(nested(10, leaf="")) is None


def test_a_refused_body_is_a_validation_error_naming_the_field() -> None:
    raw = orjson.dumps({"events": [{"event": "e", "linked_account_id": "a", "payload": {"k": 1}}]})
    bad = raw.replace(b'"k":1', b'"k":"\\u0000"')
    with pytest.raises(ValidationError) as caught:
        EventBatchCreate.model_validate_json(bad)
    (error,) = caught.value.errors()
    assert error["loc"] == ("events", 0, "payload", "k")
    assert error["type"] == "string_nul"
    assert EventBatchCreate.model_validate_json(raw).events[0].payload == {"k": 1}


def test_queries_are_held_to_it_too() -> None:
    with pytest.raises(ValidationError) as caught:
        ExecutionQuery.model_validate({"cursor": "a\x00"})
    assert caught.value.errors()[0]["loc"] == ("cursor",)


def test_invalid_json_is_left_to_pydantic() -> None:
    with pytest.raises(ValidationError) as caught:
        EventCreate.model_validate_json(b'{"payload": {"n": 99999999999999999999}')
    assert caught.value.errors()[0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{"}',
        # a deep body whose strings hold brackets that would pair with the real ones
        b'{"x":"}","y":' * 70 + b"1" + b',"z":"{"}' * 70,
        b'{"a": "\\\\u0000"}',
        b'{"n": 9223372036854775808}',
        b'{"n": [-9223372036854775809]}',
        b'{"n": 100000000000000000000}',
        b'{"n": ' + b"9" * 5000 + b"}",  # beyond what int() reads: never parsed here
    ],
)
def test_the_scan_looks_when_in_doubt(raw: bytes) -> None:
    assert may_be_unstorable(raw)


def test_the_scan_clears_ordinary_bodies() -> None:
    event = {"event": "e", "linked_account_id": "a", "payload": {"n": 42, "s": "x", "l": [{}]}}
    assert not may_be_unstorable(orjson.dumps({"events": [event] * 1000}))
    assert not may_be_unstorable(json.dumps({"s": 'Zoë "quoted" \\ \n'}).encode())
    assert not may_be_unstorable(orjson.dumps(nested(MAX_JSON_DEPTH)))
    snowflakes = {"id": 1234567890123456789, "min": INT64_MIN, "max": INT64_MAX}
    assert not may_be_unstorable(orjson.dumps(snowflakes))
    assert not may_be_unstorable(b'{"f": 1.0000000000000000000, "s": "0000000000000000000"}')
    assert may_be_unstorable(orjson.dumps(nested(MAX_JSON_DEPTH + 1)))


# JSON values with what makes the scan hard: NULs, brackets, quotes and backslashes in
# strings and keys, integers near the int64 bounds, deep nesting.
_text = st.text(alphabet=st.sampled_from('ab{}[]"\\\x00\n/u0é'), max_size=8)
_ints = st.one_of(
    st.integers(-1000, 1000),
    st.integers(INT64_MIN - 3, INT64_MIN + 3),
    st.integers(INT64_MAX - 3, INT64_MAX + 3),
    st.integers(-(2**70), 2**70),
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3))


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), _ints, st.floats(allow_nan=False), _text),
    _containers,
    max_leaves=40,
)


def _deepen(value: Any, depth: int) -> Any:
    return nested(depth, leaf=value, key='"}{') if depth else value


@settings(max_examples=400, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.dictionaries(_text, _json, max_size=4),
    depth=st.sampled_from([0, 0, MAX_JSON_DEPTH - 3, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH]),
    encoder=st.sampled_from(["orjson", "json", "json_ascii", "json_spaced"]),
)
def test_the_scan_never_misses_a_problem(body: dict[str, Any], depth: int, encoder: str) -> None:
    value = {"k": _deepen(body, depth)} if depth else body
    try:
        raw = {
            "orjson": lambda v: orjson.dumps(v),
            "json": lambda v: json.dumps(v, ensure_ascii=False).encode(),
            "json_ascii": lambda v: json.dumps(v).encode(),
            "json_spaced": lambda v: json.dumps(v, indent=1).encode(),
        }[encoder](value)
    except (TypeError, orjson.JSONEncodeError):
        raw = json.dumps(value).encode()  # orjson refuses ints beyond 64 bits
    if unstorable(value) is not None:
        assert may_be_unstorable(raw), raw
