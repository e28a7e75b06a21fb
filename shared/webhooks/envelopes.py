"""What an endpoint receives for a message: the body and headers of its format.

``standard``: the stored ``{type, timestamp, data}`` with Standard Webhooks headers.
``gocobalt``: gocobalt's webhook bodies and event names (``Connection Created``, ``Connection
Deleted``, ``Connection Expired``, ``Workflow Completed``, ``Workflow Errored``) signed in
``x-cobalt-signature``. ``vital``: Vital's ``provider.connection.created`` /
``provider.connection.error`` envelope with the ``svix-*`` headers its Svix sender uses.
``emr``: the EMR API's receivers (docs.usecobalt.com, "Receiving"): ``cobalt-verification``
(hex HMAC-SHA256 of the JSON body, keyed with the secret), ``webhook-id``, an ISO 8601
``webhook-timestamp`` and ``webhook-attempt`` (1, 2, …); the body is
``{id, event, created_at, user_id, data}`` (its documentation shows the headers and the
signature, not a body: this one names the event, the end user as that API does, ``user_id``,
and the same ``data`` as the standard format).
The other formats also carry the Standard Webhooks headers (``webhook-id`` is the same on
every retry, so any receiver can drop duplicates).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any

import orjson

from shared.accounts.models import account_uuid
from shared.tenancy import Tenant
from shared.webhooks.models import EndpointFormat, Message, WebhookEventType
from shared.webhooks.signing import cobalt_signature, standard_signature, unix_seconds

_GOCOBALT_EVENTS = {
    WebhookEventType.CONNECTION_CREATED: "Connection Created",
    WebhookEventType.CONNECTION_UPDATED: "Connection Created",  # gocobalt has no "updated"
    WebhookEventType.CONNECTION_DELETED: "Connection Deleted",
    WebhookEventType.CONNECTION_NEEDS_REAUTH: "Connection Expired",
    WebhookEventType.EXECUTION_SUCCEEDED: "Workflow Completed",
    WebhookEventType.EXECUTION_FAILED: "Workflow Errored",
}
_VITAL_EVENTS = {
    WebhookEventType.CONNECTION_CREATED: "provider.connection.created",
    WebhookEventType.CONNECTION_UPDATED: "provider.connection.created",  # Vital: a reconnect
    WebhookEventType.CONNECTION_NEEDS_REAUTH: "provider.connection.error",
}
# Vital user ids are UUIDs; Linkport derives one per linked account (stable, never stored).


def formats_for(event_type: WebhookEventType) -> tuple[EndpointFormat, ...]:
    """The endpoint formats that have a shape for this event type (others do not receive it)."""
    if event_type is WebhookEventType.TEST:
        return tuple(EndpointFormat)
    found = [EndpointFormat.STANDARD]
    if event_type in _GOCOBALT_EVENTS:
        found.append(EndpointFormat.GOCOBALT)
    if event_type in _VITAL_EVENTS:
        found.append(EndpointFormat.VITAL)
    found.append(EndpointFormat.EMR)  # every event, under Linkport's own names
    return tuple(found)


def gocobalt_event_name(event_type: WebhookEventType) -> str | None:
    """gocobalt's name for the event type, if it has one."""
    return _GOCOBALT_EVENTS.get(event_type)


def vital_event_type(event_type: WebhookEventType) -> str | None:
    """Vital's event type for it, if it has one."""
    return _VITAL_EVENTS.get(event_type)


def vital_user_id(tenant: Tenant, linked_account_id: str) -> str:
    """The Vital ``user_id`` of a linked account (``client_user_id`` is the account's own id)."""
    return str(account_uuid(tenant, linked_account_id))


@dataclass(frozen=True, slots=True)
class ReauthLink:
    """An update-mode link token made for one attempt (never stored: it is a credential)."""

    link_token: str
    link_url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AppFacts:
    """The catalog's name and logo of a connection's app (Vital names its provider)."""

    name: str
    logo_url: str


@dataclass(frozen=True, slots=True)
class ExecutionFacts:
    """What gocobalt's workflow webhooks name besides ids: the workflow's name, the config id."""

    workflow_name: str | None
    config_id: str | None


@dataclass(frozen=True, slots=True)
class Extras:
    """What a format needs beyond the stored message, looked up when sending."""

    reauth_link: ReauthLink | None = None
    app: AppFacts | None = None
    execution: ExecutionFacts | None = None


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    """The body and headers of one attempt."""

    body: bytes
    headers: dict[str, str]


def build_request(
    *,
    format: EndpointFormat,
    message: Message,
    secrets: list[bytes],
    sent_at: datetime,
    extras: Extras,
    attempt: int = 1,
) -> OutgoingRequest:
    """The signed request for one attempt (signed now: the timestamp is the attempt's)."""
    if format is EndpointFormat.EMR:
        return _emr_request(message, secrets, sent_at, extras, attempt)
    if message.type is WebhookEventType.TEST:
        body = orjson.dumps(message.payload)
    elif format is EndpointFormat.GOCOBALT:
        body = orjson.dumps(_gocobalt_body(message, extras))
    elif format is EndpointFormat.VITAL:
        body = orjson.dumps(_vital_body(message, extras))
    else:
        body = orjson.dumps(_standard_body(message, extras))
    signature = standard_signature(secrets, msg_id=message.ref, timestamp=sent_at, body=body)
    timestamp = str(unix_seconds(sent_at))
    headers = {
        "Content-Type": "application/json",
        "webhook-id": message.ref,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature,
    }
    if format is EndpointFormat.GOCOBALT:
        headers["x-cobalt-signature"] = cobalt_signature(secrets[0], body)
    elif format is EndpointFormat.VITAL:
        headers |= {
            "svix-id": message.ref,
            "svix-timestamp": timestamp,
            "svix-signature": signature,
        }
    return OutgoingRequest(body, headers)


def _emr_request(
    message: Message, secrets: list[bytes], sent_at: datetime, extras: Extras, attempt: int
) -> OutgoingRequest:
    payload = _standard_body(message, extras)
    data = payload.get("data", {})
    body = orjson.dumps(
        {
            "id": message.ref,
            "event": payload.get("type", message.type.value),
            "created_at": payload.get("timestamp"),
            "user_id": data.get("linked_account_id"),
            "data": data,
        }
    )
    headers = {
        "Content-Type": "application/json",
        "cobalt-verification": cobalt_signature(secrets[0], body),
        "webhook-id": message.ref,
        "webhook-timestamp": sent_at.isoformat().replace("+00:00", "Z"),
        "webhook-attempt": str(attempt),
    }
    return OutgoingRequest(body, headers)


def _standard_body(message: Message, extras: Extras) -> dict[str, Any]:
    link = extras.reauth_link
    if link is None:
        return message.payload
    data = {
        **message.payload["data"],
        "link_token": link.link_token,
        "link_url": link.link_url,
        "link_token_expires_at": link.expires_at.isoformat(),
    }
    return {**message.payload, "data": data}


def _gocobalt_body(message: Message, extras: Extras) -> dict[str, Any]:
    data = message.payload["data"]
    name = _GOCOBALT_EVENTS[message.type]
    if message.type in (WebhookEventType.EXECUTION_SUCCEEDED, WebhookEventType.EXECUTION_FAILED):
        facts = extras.execution or ExecutionFacts(None, None)
        return {
            "linked_account_id": data["linked_account_id"],
            "instance_id": data["execution_id"],
            "workflow_id": data["workflow_id"],
            "config_id": facts.config_id,
            "event": name,
            "workflow_name": facts.workflow_name,
            "status": "COMPLETED"
            if message.type is WebhookEventType.EXECUTION_SUCCEEDED
            else "ERRORED",
        }
    return {
        "linked_account_id": data["linked_account_id"],
        "org_id": str(message.tenant.client_id),
        "environment": "production" if message.tenant.environment == "live" else "test",
        "type": "General",
        "event": name,
        "slug": data["app"],
        "createdAt": format_datetime(message.created_at, usegmt=True),
    }


def _vital_body(message: Message, extras: Extras) -> dict[str, Any]:
    data = message.payload["data"]
    account = data["linked_account_id"]
    user_id = vital_user_id(message.tenant, account)
    event_type = _VITAL_EVENTS[message.type]
    if message.type is WebhookEventType.CONNECTION_NEEDS_REAUTH:
        reason = data.get("reason") or "the connection needs re-authorisation"
        body: dict[str, Any] = {
            "provider": data["app"],
            "user_id": user_id,
            "message": reason,
            "error_type": "token_refresh_failed"
            if "refresh" in reason
            else "provider_credential_error",
            "error_details": reason,
        }
    else:
        app = extras.app or AppFacts(data["app"], "")
        provider = {"name": app.name, "slug": data["app"], "logo": app.logo_url}
        body = {
            "user_id": user_id,
            "provider": provider,
            "source": provider,
            "resource_availability": {},
        }
    return {
        "event_type": event_type,
        "data": body,
        "user_id": user_id,
        "client_user_id": account,
        "team_id": str(message.tenant.client_id),
    }
