"""Revoking a deleted connection's token at its provider (RFC 7009), durably.

Deleting a connection (or its linked account) moves its sealed credentials to
``connection_revocations`` in the same transaction (``store.delete_connection``,
``store.delete_account_connections``). The workers' revocation cron then POSTs
``token=…&token_type_hint=…`` to the app's ``oauth.revoke_url`` with the client's
authentication (``oauth.token_auth``) and forgets the row once the provider answered 2xx
(RFC 7009 §2.2: also for a token it no longer knows). A failure is logged (never the
token) and counted, and tried again later on the execution retry schedule, up to
``revocation_max_attempts`` attempts. The delete itself never waits for the provider, and a
crash between the delete and the revocation leaves the revocation owed, not forgotten.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
import orjson
import structlog

from shared.apps import service as apps
from shared.connections import store
from shared.connections.credentials import CredentialSource, connection_binding
from shared.connectors.catalog import App, fill, has_user_fields
from shared.connectors.oauth import OAuthClient, basic_authorization, with_query
from shared.infra import metrics
from shared.infra.outages import OUTAGE_ERRORS
from shared.infra.outbound import BlockedDestination, ResponseTooLarge

log = structlog.get_logger(logger_name="linkport.connections")

Outcome = Literal["revoked", "skipped", "retry", "abandoned"]
# Revocations attempted at once by one cron run, and at most per run.
_CONCURRENCY = 8
_BATCH = 100


@dataclass(frozen=True)
class RevocationRequest:
    """A revocation request: RFC 7009's POST of a form, or the app's own way (``method``;
    a GET carries the token in its query, a DELETE in its URL; ``as_json``: a JSON body)."""

    url: str = field(repr=False)  # a GET's or DELETE's URL holds the token
    form: dict[str, str] = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    from_catalog: bool
    method: str = "POST"
    as_json: bool = False


def revocation_request(
    app: App,
    credentials: dict[str, Any],
    client: OAuthClient,
    *,
    base_url: str,
    fields: dict[str, str],
) -> RevocationRequest | None:
    """The request revoking a connection's grant, or None when the app has no revocation
    endpoint or the connection holds no token. The token is ``oauth.revoke_token`` (the
    access token when there is no refresh token); the client authenticates as at the
    token endpoint (``oauth.token_auth``)."""
    spec = app.oauth
    # SMART on FHIR: the revocation endpoint the server published when it was connected.
    discovered = credentials.get("revoke_url")
    template = discovered or (spec.revoke_url if spec is not None else None)
    if spec is None or template is None:
        return None
    hint = spec.revoke_token
    token = credentials.get(hint)
    if not token and hint == "refresh_token":
        hint, token = "access_token", credentials.get("access_token")
    if not token:
        return None
    url = discovered or fill(template, base_url=base_url, fields=fields)
    from_catalog = not discovered and not has_user_fields(template.replace("{token}", ""))
    headers = {"Accept": "application/json"}
    if "{token}" in url:  # HubSpot: DELETE …/refresh-tokens/{token}
        url = url.replace("{token}", quote(str(token), safe=""))
        return RevocationRequest(url, {}, headers, from_catalog, method=spec.revoke_method)
    form = {spec.revoke_param: str(token)}
    if spec.revoke_method == "GET":  # Oura: GET ?access_token=…, no client credentials
        return RevocationRequest(with_query(url, form), {}, headers, from_catalog, method="GET")
    if spec.revoke_param == "token":
        form["token_type_hint"] = hint
    if spec.token_auth == "client_secret_post":
        form |= {"client_id": client.client_id, "client_secret": client.client_secret}
    else:
        headers["Authorization"] = basic_authorization(client)
    return RevocationRequest(
        url,
        form,
        headers,
        from_catalog,
        method=spec.revoke_method,
        as_json=spec.revoke_request_format == "json",
    )


async def revoke_owed(source: CredentialSource) -> dict[Outcome, int]:
    """The revocation cron's work: attempt the revocations due (a bounded batch, each
    claimed so that no two workers attempt one at once); how many ended which way. An
    outage of Postgres is raised (after the batch) for the worker to ride out."""
    settings = source.settings
    owed = await store.claim_revocations_due(
        source.pool, limit=_BATCH, lease=settings.revocation_timeout + 30
    )
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def attempt(item: store.OwedRevocation) -> Outcome:
        async with gate:
            return await _attempt(source, item)

    outcomes = await asyncio.gather(*(attempt(item) for item in owed), return_exceptions=True)
    counts: dict[Outcome, int] = {}
    for outcome in outcomes:
        if isinstance(outcome, OUTAGE_ERRORS):
            raise outcome
        if isinstance(outcome, BaseException):  # its claim runs out: tried again then
            log.error("token_revocation_crashed", error=type(outcome).__name__)
            continue
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


async def _attempt(source: CredentialSource, item: store.OwedRevocation) -> Outcome:
    settings = source.settings
    app = source.catalog.get(item.app)
    request = None
    # Any OAuth app: a SMART connection may hold the revocation endpoint its server published.
    if app is not None and app.oauth is not None:
        client = await apps.oauth_client(
            pool=source.pool,
            keyring=source.keyring,
            settings=settings,
            tenant=item.tenant,
            app=app,
        )
        if client is not None:
            plaintext = source.keyring.open(
                item.credentials, bound_to=connection_binding(item.connection_id)
            )
            request = revocation_request(
                app, orjson.loads(plaintext), client, base_url=settings.base_url, fields=item.fields
            )
    if request is None:  # nothing to revoke, or no way to: nothing to wait for
        return await _settle(source, item, "skipped")
    error = await _send(source, request)
    if error is None:
        return await _settle(source, item, "revoked")
    facts = {"connection_id": str(item.connection_id), "app": item.app, "attempt": item.attempts}
    if item.attempts >= settings.revocation_max_attempts:
        log.warning("token_revocation_abandoned", error=error, **facts)
        return await _settle(source, item, "abandoned")
    delay = min(settings.retry_max_delay, settings.retry_base_delay * 2 ** (item.attempts - 1))
    log.warning("token_revocation_failed", error=error, retry_in=delay, **facts)
    await store.retry_revocation(
        source.pool, connection_id=item.connection_id, delay=delay, error=error
    )
    metrics.REVOCATIONS.labels("retry").inc()
    return "retry"


async def _send(source: CredentialSource, request: RevocationRequest) -> str | None:
    """POST the revocation; None when the provider took it, else why not (no secrets)."""
    try:
        async with asyncio.timeout(source.settings.revocation_timeout):
            reply = await source.http.request(
                request.method,
                request.url,
                data=request.form if request.form and not request.as_json else None,
                json=request.form if request.as_json else None,
                headers=request.headers,
                from_catalog=request.from_catalog,
            )
    except (aiohttp.ClientError, TimeoutError, BlockedDestination, ResponseTooLarge) as exc:
        return f"revocation endpoint unreachable ({type(exc).__name__})"
    if 200 <= reply.status < 300:
        return None
    return f"revocation endpoint answered {reply.status}"


async def _settle(
    source: CredentialSource, item: store.OwedRevocation, outcome: Outcome
) -> Outcome:
    await store.settle_revocation(source.pool, connection_id=item.connection_id)
    metrics.REVOCATIONS.labels(outcome).inc()
    return outcome
