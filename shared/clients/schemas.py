"""Per-client, per-environment settings: branding and where Link may send users back to."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import MISSING, AfterValidator, Field, StringConstraints

from shared.clients.models import ApiKey, ClientSettings, origin_of
from shared.schemas import Color, HttpUrl, Name, RequestModel, ResponseModel
from shared.tenancy import Environment


def _check_origin(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an origin: http(s)://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError("must be an origin only (scheme, host, port): no path, query or user")
    return origin_of(value)


Origin = Annotated[str, StringConstraints(max_length=300), AfterValidator(_check_origin)]


class ClientSettingsRead(ResponseModel):
    """The caller's settings in the caller's environment."""

    client_id: str
    environment: Environment
    name: str
    color: str | None
    callback_url: str | None
    allowed_redirect_urls: list[str]
    allowed_origins: list[str] | None = Field(
        description="browser origins allowed on session-token routes (CORS); null: the "
        "origins of callback_url and allowed_redirect_urls"
    )

    @classmethod
    def of(cls, settings: ClientSettings) -> Self:
        """The API shape of a tenant's settings."""
        return cls(
            client_id=settings.public_client_id,
            environment=settings.environment,
            name=settings.name,
            color=settings.color,
            callback_url=settings.callback_url,
            allowed_redirect_urls=list(settings.allowed_redirect_urls),
            allowed_origins=(
                list(settings.allowed_origins) if settings.allowed_origins is not None else None
            ),
        )


class ClientSettingsUpdate(RequestModel):
    """Change some settings; ``allowed_redirect_urls`` replaces the whole list. ``name`` and
    ``allowed_redirect_urls`` may be left out but not cleared (null): ``[]`` clears the list."""

    name: Name | MISSING = MISSING
    color: Color | None = None
    callback_url: HttpUrl | None = None
    allowed_redirect_urls: Annotated[list[HttpUrl], Field(max_length=100)] | MISSING = MISSING
    allowed_origins: Annotated[list[Origin], Field(max_length=100)] | None = Field(
        default=None,
        description="browser origins allowed on session-token routes (CORS); null: the "
        "origins of callback_url and allowed_redirect_urls",
    )


class ApiKeyCreate(RequestModel):
    """A new API key for the caller's environment."""

    name: Name | None = None


class ApiKeyRead(ResponseModel):
    """An API key's public facts: the secret itself is never shown again."""

    id: str
    kind: Literal["client_secret", "api_key"]
    name: str | None
    hint: str = Field(description="the key's prefix and first characters")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> Self:
        """The API shape of a key (never its secret)."""
        return cls(**_key_fields(key))


class ApiKeyCreated(ApiKeyRead):
    """A freshly created key, with its secret shown this once."""

    api_key: str

    @classmethod
    def of_created(cls, key: ApiKey, *, secret: str) -> Self:
        """The API shape of a new key, with its secret."""
        return cls(**_key_fields(key), api_key=secret)


def _key_fields(key: ApiKey) -> dict[str, Any]:
    return {
        "id": str(key.id),
        "kind": key.kind.value,
        "name": key.name,
        "hint": key.hint,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }
