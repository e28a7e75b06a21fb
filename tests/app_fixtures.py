"""Running catalog apps' actions against the fakes of their APIs (tests/fakes/apps): the fake
server accepting a credential, a step's context pointed at it, running an action as a
workflow step does (or the ActionError it raises), and the calls the fake received."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

import pytest
from pydantic import BaseModel, ValidationError

from shared.connectors import ACTIONS
from shared.connectors.base import ActionContext, ActionError
from shared.connectors.catalog import fill, load_catalog
from shared.infra.outbound import OutboundClient
from tests.fakes.apps import AppApis, AppState, Recorded
from tests.fakes.server import StartFake

# The key a workflow step's calls carry (the engine derives it from the execution and step).
IDEMPOTENCY_KEY = "exec-1:step-1"


async def start_app_apis(
    start_fake: StartFake, *, slugs: Sequence[str], credentials: Iterable[str]
) -> AppApis:
    """The fakes of ``slugs``' APIs on one server, each accepting ``credentials`` (bearer
    tokens, API keys, or ``user:password`` pairs for HTTP Basic)."""
    apis = await start_fake(AppApis(list(slugs)))
    for state in apis.apps.values():
        state.valid_credentials.update(credentials)
    return apis


def action_context(
    *,
    apis: AppApis,
    slug: str,
    client: OutboundClient,
    token: str,
    fields: Mapping[str, str] | None = None,
) -> ActionContext:
    """A step's context for a connection to ``slug`` holding ``token`` (the access token of an
    OAuth app, the secret connection field of a key app) and the public ``fields``.

    Its API base is the catalog's ``api_base_url`` filled with ``fields``, its scheme and host
    replaced by the fake's; a base a field already points at the fake (a SMART connection's
    ``fhir_base_url``) is kept as it is."""
    app = load_catalog().get(slug)
    assert app is not None
    assert app.api_base_url is not None
    known = dict(fields or {})
    filled = fill(app.api_base_url, base_url="", fields=known)
    assert "{" not in filled
    on_fake = filled if filled.startswith(apis.url) else apis.api_url(slug) + urlsplit(filled).path
    if app.auth_kind == "oauth2":
        credentials = {"access_token": token}
    else:
        (secret,) = [f.key for f in app.fields if f.secret]
        credentials = {secret: token}
    return ActionContext(
        credentials=credentials,
        api_base_url=on_fake,
        idempotency_key=IDEMPOTENCY_KEY,
        client=client,
        app=app,
        fields=known,
    )


class Connect(Protocol):
    """Makes a step's context for a connection to one of the test's apps."""

    def __call__(self, slug: str, *, token: str | None = None) -> ActionContext: ...


def connector(
    *,
    apis: AppApis,
    client: OutboundClient,
    token: str,
    fields: Mapping[str, Mapping[str, str]] | None = None,
) -> Connect:
    """Contexts for connections to ``apis``' apps through ``client``: each holds ``token``
    unless told another, and the connection ``fields`` of its app (by slug)."""
    by_slug = fields or {}
    held = token

    def connect(slug: str, *, token: str | None = None) -> ActionContext:
        return action_context(
            apis=apis, slug=slug, client=client, token=token or held, fields=by_slug.get(slug)
        )

    return connect


def app_of(name: str) -> str:
    """The slug of the app whose action is ``name``."""
    app = ACTIONS[name].app
    assert app is not None
    return app


async def run_action(name: str, *, ctx: ActionContext, given: dict[str, Any]) -> Any:
    """Run the action ``name`` as a workflow step does: ``given`` validated by its input model."""
    action = ACTIONS[name]
    return await action.run(ctx, action.input_model.model_validate(given))


async def action_failure(name: str, *, ctx: ActionContext, given: dict[str, Any]) -> ActionError:
    """The ActionError running the action ``name`` on ``given`` raises."""
    with pytest.raises(ActionError) as caught:
        await run_action(name, ctx=ctx, given=given)
    return caught.value


async def refused_failure(
    name: str, *, connect: Connect, token: str, given: dict[str, Any], status: int = 401
) -> ActionError:
    """The ActionError running ``name`` on a connection holding a ``token`` the fake refuses
    raises: checked to be ``unauthorized`` with the provider's HTTP ``status``, and not to
    repeat the token."""
    refused = await action_failure(name, ctx=connect(app_of(name), token=token), given=given)
    assert (refused.kind, refused.status) == ("unauthorized", status)
    assert token not in str(refused)
    return refused


def input_rejection(model: type[BaseModel], *, given: dict[str, Any]) -> ValidationError:
    """The ValidationError ``model`` raises on ``given``."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(given)
    return caught.value


def _checked(call: Recorded, bearer: str | None) -> Recorded:
    if bearer is not None:
        assert call.headers["Authorization"] == f"Bearer {bearer}"
        assert call.headers["Idempotency-Key"] == IDEMPOTENCY_KEY
    return call


def last_call(state: AppState, *, bearer: str | None = None) -> Recorded:
    """The last call the fake answered; with ``bearer``, checked to carry that token and the
    step's idempotency key."""
    assert state.calls, "the fake received no call"
    return _checked(state.calls[-1], bearer)


def only_call(state: AppState, *, bearer: str | None = None) -> Recorded:
    """The one call the fake answered; with ``bearer``, checked to carry that token and the
    step's idempotency key."""
    assert len(state.calls) == 1, state.calls
    return _checked(state.calls[0], bearer)
