"""Apps as a client sees them: catalog facts, whether enabled, and (for a session) connection status."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from shared.connections.models import ConnectionStatus
from shared.connectors.catalog import AuthKind
from shared.schemas import RequestModel, ResponseModel

# Whose OAuth client connects an app: the client's own, the operator's default, Linkport's
# built-in (the sandbox's); None: nobody's, so the app cannot be connected yet.
OAuthClientSource = Literal["own", "operator", "builtin"]


class AppConnection(ResponseModel):
    """One of the session's linked account's connections to this app."""

    id: str
    status: ConnectionStatus


class AppField(ResponseModel):
    """A field the end user fills in when connecting."""

    key: str
    label: str
    type: str
    required: bool
    secret: bool


class AppAction(ResponseModel):
    """An action a workflow step can call in this app."""

    name: str = Field(description="what a step's `action` names, e.g. hubspot.create_contact")
    description: str
    input_schema: dict[str, Any] = Field(description="JSON Schema of the step's `input`")


class AppRead(ResponseModel):
    """One app of the catalog."""

    slug: str
    name: str
    description: str
    logo_url: str
    categories: list[str]
    auth_kind: AuthKind
    enabled: bool
    has_own_oauth_client: bool = Field(
        description="whether the client set its own OAuth credentials"
    )
    oauth_client_source: OAuthClientSource | None = Field(
        default=None,
        description="OAuth2 apps: whose OAuth client connects it (own, the operator's default, "
        "Linkport's built-in); null: none yet, or not an OAuth2 app",
    )
    fields: list[AppField]
    actions: list[AppAction] = Field(default_factory=list)
    connection: AppConnection | None = Field(
        default=None,
        description="only with a session token: the connection its workflows use by default "
        "(the newest active one; else the newest), if any",
    )
    connections: list[AppConnection] = Field(
        default_factory=list,
        description="only with a session token: all that account's connections to the app, "
        "newest first",
    )


class AppUpdate(RequestModel):
    """Enable or disable an app, or set the client's own OAuth client for it."""

    enabled: bool | None = None
    oauth_client_id: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None
    oauth_client_secret: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = (
        None
    )
    scopes: (
        Annotated[
            list[Annotated[str, StringConstraints(min_length=1, max_length=200)]],
            Field(max_length=50),
        ]
        | None
    ) = None
