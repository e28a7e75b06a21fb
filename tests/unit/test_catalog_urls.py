"""Catalog URLs: ``{base_url}`` and connection fields filled in, and which URLs are built from
what an end user typed (those must go through the outbound guard)."""

from __future__ import annotations

import re

import pytest

from shared.connectors.catalog import fill, has_user_fields, load_catalog

_PLACEHOLDER = re.compile(r"{(\w+)}")


def test_fill_puts_in_this_linkport_without_its_trailing_slash() -> None:
    assert fill("{base_url}/sandbox/api", base_url="http://127.0.0.1:8080/", fields={}) == (
        "http://127.0.0.1:8080/sandbox/api"
    )


def test_fill_puts_in_every_occurrence_of_each_field() -> None:
    filled = fill(
        "https://{company}.example.com/{company}/v1",
        base_url="http://lp",
        fields={"company": "acme", "unused": "x"},
    )
    assert filled == "https://acme.example.com/acme/v1"


def test_fill_leaves_a_placeholder_it_has_no_value_for() -> None:
    # Visible in an error rather than silently calling "https://.pipedrive.com".
    template = "https://{company_domain}.pipedrive.com/api/v1"
    assert fill(template, base_url="http://lp", fields={}) == template


@pytest.mark.parametrize(
    ("template", "from_the_user"),
    [
        ("{base_url}/sandbox/api", False),  # this Linkport: operator data
        ("https://api.hubapi.com", False),
        ("{instance_domain}/api/FHIR/R4", True),
        ("https://{company_domain}.pipedrive.com/api/v1", True),
        ("{base_url}/{tenant}", True),
    ],
)
def test_a_url_with_any_placeholder_but_base_url_is_built_from_user_input(
    template: str, from_the_user: bool
) -> None:
    assert has_user_fields(template) is from_the_user


KNOWN_UNDECLARED: set[tuple[str, str]] = set()


def test_every_catalog_url_names_only_base_url_or_the_apps_own_fields() -> None:
    undeclared = set()
    for app in load_catalog():
        urls = [app.api_base_url or ""]
        if app.oauth is not None:
            urls += [app.oauth.authorize_url, app.oauth.token_url]
        declared = {"base_url", *(field.key for field in app.fields)}
        if app.oauth is not None:  # fields learned while connecting (token answer, callback)
            declared |= {*app.oauth.token_fields, *app.oauth.callback_fields}
        for url in urls:
            undeclared |= {(app.slug, name) for name in _PLACEHOLDER.findall(url)} - {
                (app.slug, name) for name in declared
            }
    assert undeclared == KNOWN_UNDECLARED
