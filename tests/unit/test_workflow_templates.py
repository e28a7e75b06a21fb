"""Workflow templates: a lone expression keeps its type, text renders as text, missing values
are empty, the sandbox refuses what could escape it, and a save names what does not exist."""

from __future__ import annotations

from typing import Any

import pytest

from shared.workflows.templates import (
    TemplateFailed,
    TemplateProblem,
    check,
    check_value,
    condition_holds,
    render,
)


def _context() -> dict[str, Any]:
    return {
        "event": {"n": 3, "name": "Ada", "tags": ["a", "b"], "vip": False, "address": {"x": 1}},
        "config": {"source": "app"},
        "linked_account": {"id": "u1", "name": None, "metadata": {}},
        "steps": {"create": {"id": "c_1"}},
    }


def test_a_lone_expression_keeps_its_type() -> None:
    context = _context()
    assert render("{{ event.n }}", context) == 3
    assert render("  {{ event.address }}\n", context) == {"x": 1}
    assert render("{{ event.tags }}", context) == ["a", "b"]
    assert render("{{ event.vip }}", context) is False
    assert render("{{ steps.create.id }}", context) == "c_1"


def test_anything_else_renders_as_text() -> None:
    context = _context()
    assert render("n={{ event.n }}", context) == "n=3"
    assert render("{{ event.n }}{{ event.n }}", context) == "33"  # two expressions: text
    assert render("{{ event.name | upper }} ({{ config.source }})", context) == "ADA (app)"
    assert render("no template", context) == "no template"


def test_a_missing_value_is_none_alone_and_empty_in_text_at_any_depth() -> None:
    context = _context()
    assert render("{{ event.missing }}", context) is None
    assert render("{{ event.missing.deeper.still }}", context) is None
    assert render("{{ linked_account.name }}", context) is None
    assert render("<{{ event.missing.deeper }}>", context) == "<>"


def test_inputs_render_at_every_depth_and_other_values_pass_through() -> None:
    step_input = {
        "json": {"contact": "{{ steps.create.id }}", "count": 2, "tags": ["{{ event.n }}", None]},
        "flag": True,
    }
    assert render(step_input, _context()) == {
        "json": {"contact": "c_1", "count": 2, "tags": [3, None]},
        "flag": True,
    }


def test_the_sandbox_refuses_changing_the_context_and_hides_internals() -> None:
    context = _context()
    with pytest.raises(TemplateFailed, match="not allowed"):
        render("{{ event.tags.append('c') }}", context)
    with pytest.raises(TemplateFailed, match="not allowed"):
        condition_holds("event.tags.append('c')", context)
    assert context["event"]["tags"] == ["a", "b"]
    assert render("{{ ''.__class__.__mro__ }}", context) is None
    assert render("{{ event.__class__ }}", context) is None


def test_conditions_are_truthiness_and_a_missing_value_is_false() -> None:
    context = _context()
    assert condition_holds("not event.vip", context)
    assert condition_holds("event.n > 2 and config.source == 'app'", context)
    assert condition_holds("'b' in event.tags", context)
    assert not condition_holds("event.vip", context)
    assert not condition_holds("event.missing", context)
    assert not condition_holds("event.missing.deeper == 1", context)


def test_a_template_may_use_earlier_steps_and_declared_fields_in_either_notation() -> None:
    for source in ("{{ steps.create.id }}", "{{ steps['create'].id }}", "{{ config['source'] }}"):
        check(source, expression=False, earlier_steps={"create"}, config_keys={"source"})
    check("linked_account.metadata.plan", expression=True, earlier_steps=set(), config_keys=set())


@pytest.mark.parametrize(
    ("source", "expression", "words"),
    [
        ("{{ event.email ", False, "template syntax error"),
        ("event.vip ===", True, "template syntax error"),
        ("{{ secrets.key }}", False, "unknown name 'secrets'"),
        ("{{ range(3) }}", False, "unknown name 'range'"),
        ("{{ steps.later.id }}", False, "step 'later', which does not run before this one"),
        ("steps['later'].id", True, "step 'later'"),
        ("{{ config.owner }}", False, "config field 'owner', which the workflow does not declare"),
    ],
)
def test_a_save_names_what_a_template_refers_to_that_does_not_exist(
    source: str, expression: bool, words: str
) -> None:
    with pytest.raises(TemplateProblem, match=words.replace("[", r"\[")):
        check(source, expression=expression, earlier_steps={"create"}, config_keys={"source"})


def test_a_problem_inside_an_input_names_its_path() -> None:
    step_input = {"headers": {"X-Ok": "{{ event.n }}"}, "json": {"list": ["fine", "{{ nope }}"]}}
    with pytest.raises(TemplateProblem, match=r"^input\.json\.list\.1: unknown name 'nope'"):
        check_value(step_input, earlier_steps=set(), config_keys=set(), path="input")
