"""A JSON Schema inferred from a sample event: its types, and every key it has, required."""

from __future__ import annotations

from typing import Any

import jsonschema_rs

from shared.events.definitions import infer_schema


def test_scalars_get_their_json_type_and_booleans_are_not_integers() -> None:
    # bool is a subclass of int in Python: the order of the checks is the rule.
    assert infer_schema(True) == {"type": "boolean"}
    assert infer_schema(0) == {"type": "integer"}
    assert infer_schema(0.5) == {"type": "number"}
    assert infer_schema("") == {"type": "string"}
    assert infer_schema(None) == {"type": "null"}


def test_an_object_requires_every_key_it_has_at_every_depth() -> None:
    sample = {"zeta": 1, "alpha": {"inner": "x", "flag": False}}
    assert infer_schema(sample) == {
        "type": "object",
        "properties": {
            "zeta": {"type": "integer"},
            "alpha": {
                "type": "object",
                "properties": {"inner": {"type": "string"}, "flag": {"type": "boolean"}},
                "required": ["flag", "inner"],
            },
        },
        "required": ["alpha", "zeta"],
    }
    assert infer_schema({}) == {"type": "object", "properties": {}, "required": []}


def test_an_array_takes_its_items_from_the_first_element() -> None:
    assert infer_schema([{"id": 1}, {"other": "ignored"}]) == {
        "type": "array",
        "items": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]},
    }
    assert infer_schema([]) == {"type": "array"}  # no element: any items


def test_the_inferred_schema_accepts_its_sample_and_refuses_a_changed_shape() -> None:
    sample: dict[str, Any] = {
        "email": "ada@example.com",
        "age": 36,
        "score": 0.5,
        "vip": False,
        "tags": ["a"],
        "address": {"city": "London"},
        "deleted_at": None,
    }
    validator = jsonschema_rs.Draft202012Validator(infer_schema(sample))
    assert validator.is_valid(sample)
    assert validator.is_valid(
        {**sample, "extra": "allowed"}
    )  # only what the sample has is required
    assert validator.is_valid({**sample, "score": 2})  # a number may be whole
    assert not validator.is_valid({**sample, "age": 36.5})  # a whole-number sample means integer
    assert not validator.is_valid({**sample, "vip": 0})
    assert not validator.is_valid({**sample, "tags": [1]})
    assert not validator.is_valid({**sample, "address": {}})
    assert not validator.is_valid({k: v for k, v in sample.items() if k != "deleted_at"})
