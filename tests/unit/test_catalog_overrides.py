"""LINKPORT_CATALOG_OVERRIDES: an operator's folder of app files replacing or adding apps."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.connectors.catalog import CatalogError, load_catalog

OURA_EU = """
name = "Oura (EU)"
description = "Oura through a regional host."
categories = ["wearables"]
auth_kind = "oauth2"
api_base_url = "https://eu.oura.example"

[oauth]
authorize_url = "https://eu.oura.example/oauth/authorize"
token_url = "https://eu.oura.example/oauth/token"
scopes = ["daily"]
pkce = false
token_auth = "client_secret_post"
"""

NEW_APP = """
name = "Acme Ring"
description = "An app the operator adds."
categories = ["wearables"]
auth_kind = "api_key"
"""


def test_a_file_replaces_the_shipped_app_of_its_slug_and_another_adds_one(tmp_path: Path) -> None:
    (tmp_path / "oura.toml").write_text(OURA_EU)
    (tmp_path / "acme_ring.toml").write_text(NEW_APP)
    (tmp_path / "README.md").write_text("not an app")

    catalog = load_catalog(str(tmp_path))

    oura = catalog.get("oura")
    assert oura is not None
    assert oura.oauth is not None
    assert (oura.name, oura.oauth.token_url, oura.oauth.scopes, oura.oauth.token_auth) == (
        "Oura (EU)",
        "https://eu.oura.example/oauth/token",
        ["daily"],
        "client_secret_post",
    )
    assert "acme_ring" in catalog
    assert {app.slug for app in catalog} == {app.slug for app in load_catalog()} | {"acme_ring"}
    # Without overrides the shipped catalog is untouched.
    shipped = load_catalog().get("oura")
    assert shipped is not None
    assert shipped.oauth is not None
    assert shipped.oauth.token_url == "https://api.ouraring.com/oauth/token"


def test_an_invalid_override_stops_the_load_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "oura.toml").write_text(OURA_EU.replace('auth_kind = "oauth2"', 'auth_kind = "x"'))
    with pytest.raises(CatalogError, match=r"oura\.toml"):
        load_catalog(str(tmp_path))
    (tmp_path / "oura.toml").write_text("name = ")
    with pytest.raises(CatalogError, match=r"oura\.toml"):
        load_catalog(str(tmp_path))  # errors are not cached


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog(str(tmp_path / "nowhere"))
