"""How a connection's credentials go on an API call: one rule for actions and the proxy."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from shared.connectors.catalog import App, fill


@dataclass(frozen=True)
class RequestCredentials:
    """Headers and query parameters that authenticate one call (never logged)."""

    headers: dict[str, str] = field(default_factory=dict, repr=False)
    query: dict[str, str] = field(default_factory=dict, repr=False)


def request_credentials(
    app: App | None, credentials: dict[str, Any], fields: dict[str, str]
) -> RequestCredentials:
    """What to add to a call to ``app``'s API: a bearer token for OAuth2 apps, else the
    catalog's ``request_auth`` templates filled from the connection's fields and secrets."""
    token = credentials.get("access_token")
    if app is None or app.auth_kind == "oauth2" or app.request_auth is None:
        return RequestCredentials(headers={"Authorization": f"Bearer {token}"} if token else {})
    spec = app.request_auth
    values = {**fields, **{k: str(v) for k, v in credentials.items() if isinstance(v, str)}}

    def render(template: str) -> str:
        return fill(template, base_url="", fields=values)

    if spec.basic_username is not None:
        pair = f"{render(spec.basic_username)}:{render(spec.basic_password or '')}"
        return RequestCredentials(
            headers={"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        )
    value = render(spec.value or "")
    if spec.query_param is not None:
        return RequestCredentials(query={spec.query_param: value})
    return RequestCredentials(headers={spec.header or "Authorization": value})
