"""What the README and editors are told about the catalog, made from the catalog itself: the
table of supported apps, and the JSON Schema of an app file."""

from __future__ import annotations

from typing import Any

from shared.connectors import actions_of
from shared.connectors.catalog import App, Catalog

_AUTH = {
    "oauth2": "OAuth 2.0",
    "api_key": "API key",
    "basic": "HTTP Basic",
    "none": "none",
}


def _auth(app: App) -> str:
    if app.oauth is None:
        return _AUTH[app.auth_kind]
    quirks = [
        "PKCE" if app.oauth.pkce else None,
        "SMART on FHIR" if app.oauth.smart_discovery else None,
        "refresh rotates" if app.oauth.refresh and app.oauth.refresh_rotates else None,
        "revocable" if app.oauth.revoke_url else None,
    ]
    extra = ", ".join(q for q in quirks if q)
    return f"{_AUTH[app.auth_kind]} ({extra})" if extra else _AUTH[app.auth_kind]


def apps_table(catalog: Catalog) -> str:
    """The README's table of supported apps: slug, name, categories, auth, actions."""
    lines = [
        "| app | slug | category | auth | actions |",
        "|---|---|---|---|---|",
    ]
    for app in catalog:
        actions = ", ".join(f"`{a.name.split('.', 1)[1]}`" for a in actions_of(app.slug))
        lines.append(
            f"| {app.name} | `{app.slug}` | {', '.join(app.categories)} | {_auth(app)} "
            f"| {actions or '(proxy and `http.request`)'} |"
        )
    return "\n".join(lines) + "\n"


def app_file_schema() -> dict[str, Any]:
    """The JSON Schema of an app file (``apps/{slug}.toml``; the slug is its file name)."""
    schema = App.model_json_schema()
    schema["properties"].pop("slug", None)
    schema["required"] = [r for r in schema.get("required", []) if r != "slug"]
    schema["title"] = "Linkport catalog app"
    return schema
