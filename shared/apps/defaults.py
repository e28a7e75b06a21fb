"""Operator-level default OAuth clients: the OAuth apps the operator of this Linkport
registered with providers, used by every tenant that has not set its own.

They come from a TOML file (``LINKPORT_OAUTH_DEFAULTS_FILE``), one table per app slug::

    [hubspot]
    client_id = "…"
    client_secret = "…"
    scopes = ["crm.objects.contacts.read"]  # optional: else the catalog's

A file rather than environment variables: a client secret per app is many secrets, which a
deployment mounts as one secret file (a Kubernetes Secret volume) instead of spreading them
over the process environment, where every child process and crash dump sees them.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from shared.schemas import Slug


class OAuthDefaultsError(ValueError):
    """The operator's OAuth defaults file cannot be read or is malformed (never shows the
    secrets it holds)."""


class OperatorOAuthClient(BaseModel):
    """The operator's OAuth client for one app."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    client_secret: Annotated[str, StringConstraints(min_length=1, max_length=2048)] = Field(
        repr=False
    )
    scopes: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] | None = None


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    apps: dict[Slug, OperatorOAuthClient]


@cache
def load_oauth_defaults(path: str = "") -> dict[str, OperatorOAuthClient]:
    """The operator's OAuth clients by app slug, read once per process ("" : none). An
    unreadable or invalid file raises OAuthDefaultsError naming the app and field at fault."""
    if not path:
        return {}
    try:
        raw = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        # The decoder's message quotes no values; OSError names only the path.
        raise OAuthDefaultsError(f"OAuth defaults file {path}: {exc}") from None
    try:
        return dict(_File(apps=raw).apps)
    except ValidationError as exc:
        # Locations and messages only: pydantic's default text would echo the input (secrets).
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
        )
        raise OAuthDefaultsError(f"OAuth defaults file {path}: {problems}") from None
