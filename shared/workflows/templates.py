"""Workflow templates: step inputs and ``when`` conditions, in Jinja2's sandboxed environment.

Templates see four names: ``event`` (the payload), ``config`` (the account's field values),
``linked_account`` (id, name, metadata) and ``steps`` (outputs of earlier steps). A string
that is exactly one ``{{ expression }}`` keeps the expression's type (a number stays a
number); any other string renders as text. Everything is checked when a workflow is saved.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

CONTEXT_NAMES = frozenset({"event", "config", "linked_account", "steps"})
_ONLY_EXPRESSION = re.compile(r"^\s*{{(?P<expr>(?:(?!}}).)*)}}\s*$", re.DOTALL)

_ENV = ImmutableSandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)
# Compiling is parse + code generation + exec (about a millisecond); rendering a compiled
# template is microseconds. Workflows repeat the same few templates for every execution.
_COMPILED_CACHE_SIZE = 4096


@functools.lru_cache(maxsize=_COMPILED_CACHE_SIZE)
def _template(source: str) -> Template:
    return _ENV.from_string(source)


@functools.lru_cache(maxsize=_COMPILED_CACHE_SIZE)
def _expression(source: str) -> Callable[..., Any]:
    return _ENV.compile_expression(source, undefined_to_none=True)


class TemplateProblem(Exception):
    """A template that cannot be used (bad syntax, unknown name or step)."""


class TemplateFailed(Exception):
    """A template that failed while rendering (e.g. a sandbox violation)."""


def _names_used(ast: nodes.Node) -> tuple[set[str], set[str], set[str]]:
    """(top-level names, ``steps.X`` step ids, ``config.X`` keys) an AST refers to."""
    top = {n.name for n in ast.find_all(nodes.Name) if n.ctx == "load"}
    step_ids: set[str] = set()
    config_keys: set[str] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        key: object
        if isinstance(node, nodes.Getattr):
            base, key = node.node, node.attr
        elif isinstance(node, nodes.Getitem):
            base, key = node.node, getattr(node.arg, "value", None)
        else:
            continue
        if (
            isinstance(base, nodes.Name)
            and base.name in ("steps", "config")
            and isinstance(key, str)
        ):
            (step_ids if base.name == "steps" else config_keys).add(key)
    return top, step_ids, config_keys


def check(source: str, *, expression: bool, earlier_steps: set[str], config_keys: set[str]) -> None:
    """Raise TemplateProblem unless ``source`` parses and refers only to what exists."""
    try:
        ast = _ENV.parse(("{{ " + source + " }}") if expression else source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template syntax error: {exc.message}") from None
    top, steps, keys = _names_used(ast)
    unknown = top - CONTEXT_NAMES
    if unknown:
        raise TemplateProblem(
            f"unknown name {sorted(unknown)[0]!r}; use event, config, linked_account or steps"
        )
    missing_steps = steps - earlier_steps
    if missing_steps:
        raise TemplateProblem(
            f"refers to step {sorted(missing_steps)[0]!r}, which does not run before this one"
        )
    missing_keys = keys - config_keys
    if missing_keys:
        raise TemplateProblem(
            f"refers to config field {sorted(missing_keys)[0]!r}, which the workflow does not declare"
        )


def check_value(value: Any, *, earlier_steps: set[str], config_keys: set[str], path: str) -> None:
    """Check every string inside an input value; the problem names its path."""
    if isinstance(value, str):
        try:
            check(value, expression=False, earlier_steps=earlier_steps, config_keys=config_keys)
        except TemplateProblem as exc:
            raise TemplateProblem(f"{path}: {exc}") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_value(
                item, earlier_steps=earlier_steps, config_keys=config_keys, path=f"{path}.{key}"
            )
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_value(
                item, earlier_steps=earlier_steps, config_keys=config_keys, path=f"{path}.{i}"
            )


def _plain(value: Any) -> Any:
    return None if isinstance(value, ChainableUndefined) else value


def render(value: Any, context: dict[str, Any]) -> Any:
    """An input value with its templates filled in from ``context``."""
    try:
        if isinstance(value, str):
            whole = _ONLY_EXPRESSION.match(value)
            if whole:
                return _plain(_expression(whole.group("expr"))(**context))
            return _template(value).render(**context)
        if isinstance(value, dict):
            return {k: render(v, context) for k, v in value.items()}
        if isinstance(value, list):
            return [render(v, context) for v in value]
    except SecurityError as exc:
        raise TemplateFailed(f"template not allowed: {exc}") from None
    return value


def condition_holds(expression: str, context: dict[str, Any]) -> bool:
    """Whether a step's ``when`` expression is true for this context."""
    try:
        return bool(_expression(expression)(**context))
    except SecurityError as exc:
        raise TemplateFailed(f"template not allowed: {exc}") from None
