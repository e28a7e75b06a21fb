"""The operator's default OAuth clients file (``LINKPORT_OAUTH_DEFAULTS_FILE``): read once,
checked, and never quoting the secrets it holds in an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.apps.defaults import OAuthDefaultsError, load_oauth_defaults

SECRET = "operator-very-s3cret"


def test_no_file_means_no_defaults() -> None:
    assert load_oauth_defaults("") == {}


def test_apps_are_read_by_slug(tmp_path: Path) -> None:
    path = tmp_path / "defaults.toml"
    path.write_text(
        f'[hubspot]\nclient_id = "hs-id"\nclient_secret = "{SECRET}"\nscopes = ["crm.x"]\n'
        f'[slack]\nclient_id = "sl-id"\nclient_secret = "{SECRET}"\n'
    )
    defaults = load_oauth_defaults(str(path))
    assert defaults["hubspot"].client_id == "hs-id"
    assert defaults["hubspot"].scopes == ["crm.x"]
    assert defaults["slack"].scopes is None
    assert SECRET not in repr(defaults)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (f'[hubspot]\nclient_secret = "{SECRET}"\n', "hubspot.client_id"),
        (f'[hubspot]\nclient_id = "x"\nclient_secret = "{SECRET}"\nscope = "a"\n', "scope"),
        (f'["Hub Spot"]\nclient_id = "x"\nclient_secret = "{SECRET}"\n', "Hub Spot"),
        (f'[hubspot]\nclient_id = "x"\nclient_secret = {SECRET}\n', "line 3"),
    ],
)
def test_a_bad_file_is_refused_without_quoting_secrets(
    tmp_path: Path, text: str, named: str
) -> None:
    path = tmp_path / "defaults.toml"
    path.write_text(text)
    with pytest.raises(OAuthDefaultsError) as raised:
        load_oauth_defaults(str(path))
    assert named in str(raised.value)
    assert SECRET not in str(raised.value)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OAuthDefaultsError, match=r"defaults\.toml"):
        load_oauth_defaults(str(tmp_path / "defaults.toml"))
