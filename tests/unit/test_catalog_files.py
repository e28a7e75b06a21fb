"""Every catalog file is a valid app (against the published JSON Schema and the model), every
action is its app's and has a usable input schema, and the README's app table is current."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path

import jsonschema_rs
import pytest

from shared.connectors import ACTIONS
from shared.connectors.catalog import load_catalog
from shared.connectors.catalog.docs import app_file_schema, apps_table

ROOT = Path(__file__).resolve().parents[2]
APP_FILES = sorted(
    (e for e in (resources.files("shared.connectors.catalog") / "apps").iterdir()),
    key=lambda e: e.name,
)


def test_the_published_schema_is_the_models() -> None:
    published = json.loads((ROOT / "docs" / "catalog.schema.json").read_text())
    assert published == app_file_schema(), "run the generator in README 'Adding an app'"


@pytest.mark.parametrize("entry", APP_FILES, ids=lambda e: e.name)
def test_each_app_file_matches_the_schema(entry: object) -> None:
    validator = jsonschema_rs.validator_for(app_file_schema())
    data = tomllib.loads(entry.read_text())  # type: ignore[attr-defined]
    errors = [e.message for e in validator.iter_errors(data)]
    assert errors == []


def test_a_file_with_an_unknown_field_fails_the_schema() -> None:
    validator = jsonschema_rs.validator_for(app_file_schema())
    bad = {"name": "X", "description": "x", "categories": [], "auth_kind": "oauth2", "colour": 1}
    assert not validator.is_valid(bad)


def test_every_app_has_a_logo_and_every_action_an_app() -> None:
    catalog = load_catalog()
    logos = resources.files("shared.connectors.catalog") / "logos"
    for app in catalog:
        assert (logos / f"{app.slug}.svg").is_file(), app.slug
    for action in ACTIONS.values():
        if action.app is not None:
            assert action.app in catalog, action.name
        schema = action.input_model.model_json_schema()
        jsonschema_rs.validator_for(schema)  # a usable JSON Schema for a UI
        assert action.description, action.name


def test_the_readme_lists_every_app_with_its_auth_and_actions() -> None:
    readme = (ROOT / "README.md").read_text()
    start, end = "<!-- apps:start -->\n", "<!-- apps:end -->"
    listed = readme[readme.index(start) + len(start) : readme.index(end)]
    expected = apps_table(load_catalog())
    assert listed == expected, "README's app table is stale; paste this:\n" + expected
