"""Authentication: client secret headers, API keys, revocation across gateway replicas."""

from __future__ import annotations

from shared.clients import store as clients
from shared.infra import db
from tests.helpers import Api, AppFactory

LINK = {"user_id": "u", "org_id": "o"}


async def test_every_server_credential_style_is_accepted(acme: Api) -> None:
    for style in ("secret", "api_key", "bearer"):
        reply = await acme.call("POST", "/link/token/create", LINK, auth=style)
        assert reply.status == 200, style


async def test_missing_credentials_are_a_401(acme: Api) -> None:
    reply = await acme.call("POST", "/link/token/create", LINK, auth="none")
    assert reply.status == 401
    assert reply.body["error"]["code"] == "unauthenticated"
    assert "client_id" in reply.body["error"]["message"]


async def test_wrong_secret_and_half_a_pair_are_401(acme: Api) -> None:
    wrong = {"client_id": acme.credentials.client_id, "client_secret": "cs_test_wrong"}
    assert (
        await acme.call("POST", "/link/token/create", LINK, auth="none", headers=wrong)
    ).status == 401
    half = {"client_id": acme.credentials.client_id}
    assert (
        await acme.call("POST", "/link/token/create", LINK, auth="none", headers=half)
    ).status == 401
    bad_key = {"X-API-Key": "sk_test_nope"}
    assert (
        await acme.call("POST", "/link/token/create", LINK, auth="none", headers=bad_key)
    ).status == 401


async def test_secret_of_one_client_does_not_open_another(acme: Api, globex: Api) -> None:
    mixed = {
        "client_id": acme.credentials.client_id,
        "client_secret": globex.credentials.client_secret,
    }
    assert (
        await acme.call("POST", "/link/token/create", LINK, auth="none", headers=mixed)
    ).status == 401


async def test_error_messages_never_echo_the_secret(acme: Api) -> None:
    wrong = {"client_id": acme.credentials.client_id, "client_secret": "cs_test_guessguessguess"}
    reply = await acme.call("POST", "/link/token/create", LINK, auth="none", headers=wrong)
    assert "guessguessguess" not in str(reply.body)


async def test_vital_header_is_accepted_only_on_the_wearables_route(acme: Api) -> None:
    vital = {"x-vital-api-key": acme.credentials.api_key}
    assert (
        await acme.call("POST", "/v2/link/token", {"user_id": "u"}, auth="none", headers=vital)
    ).status == 200
    assert (await acme.call("GET", "/v1/orgs", auth="none", headers=vital)).status == 401


async def test_environments_are_separate_tenants(acme: Api, pool: db.Pool) -> None:
    live = await clients.add_credentials(
        pool, public_client_id=acme.credentials.client_id, environment="live"
    )
    assert live is not None
    assert live.client_id.startswith("ci_live_")
    assert live.client_secret.startswith("cs_live_")
    assert live.api_key.startswith("sk_live_")
    live_api = await Api.for_credentials(acme.http, pool, live)
    await acme.call("POST", "/v1/linked-accounts", {"linked_account_id": "test-only"})
    assert (await live_api.call("GET", "/v1/linked-accounts/test-only")).status == 404
    assert (await live_api.call("POST", "/link/token/create", LINK, auth="secret")).status == 200


async def test_issued_credentials_carry_their_prefixes_and_are_stored_hashed(
    acme: Api, pool: db.Pool
) -> None:
    creds = acme.credentials
    assert creds.client_id.startswith("ci_test_")
    assert creds.client_secret.startswith("cs_test_")
    assert creds.api_key.startswith("sk_test_")
    dump = await pool.fetchval("SELECT string_agg(row_to_json(k)::text, ' ') FROM api_keys k")
    assert creds.client_secret not in dump
    assert creds.api_key not in dump
    hints = await acme.call("GET", "/v1/api-keys")
    assert {k["kind"] for k in hints.body["data"]} == {"client_secret", "api_key"}
    assert all(k["hint"].endswith("…") and len(k["hint"]) == 13 for k in hints.body["data"])


async def test_authentication_is_cached_and_costs_no_database_lookup(
    acme: Api, pool: db.Pool
) -> None:
    assert (await acme.call("POST", "/link/token/create", LINK)).status == 200
    # Remove the key behind the gateway's back: the cached lookup still serves it...
    await pool.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE client_id = $1", acme.tenant.client_id
    )
    assert (await acme.call("POST", "/link/token/create", LINK)).status == 200
    # ...which is why revocation must go through the API, which evicts at once (next test).


async def test_revoked_key_is_refused_at_once_by_every_gateway(
    acme: Api, pool: db.Pool, make_client: AppFactory
) -> None:
    other_gateway = await make_client()
    other = Api(other_gateway, acme.credentials, acme.tenant)
    created = await acme.call("POST", "/v1/api-keys", {"name": "ci"})
    assert created.status == 201
    assert created.body["api_key"].startswith("sk_test_")
    new_key = {"X-API-Key": created.body["api_key"]}
    # Both gateways have now cached the new key.
    assert (await acme.call("GET", "/v1/orgs", auth="none", headers=new_key)).status == 200
    assert (await other.call("GET", "/v1/orgs", auth="none", headers=new_key)).status == 200

    revoked = await acme.call("DELETE", f"/v1/api-keys/{created.body['id']}")
    assert revoked.status == 200
    assert revoked.body["revoked_at"] is not None
    assert (await acme.call("GET", "/v1/orgs", auth="none", headers=new_key)).status == 401

    async def refused_by_other() -> int:
        return (await other.call("GET", "/v1/orgs", auth="none", headers=new_key)).status

    from tests.helpers import eventually

    await eventually(refused_by_other, lambda status: status == 401, timeout=3)


async def test_another_tenants_key_cannot_be_revoked(acme: Api, globex: Api) -> None:
    keys = await globex.call("GET", "/v1/api-keys")
    target = keys.body["data"][0]["id"]
    assert (await acme.call("DELETE", f"/v1/api-keys/{target}")).status == 404
    assert (await acme.call("DELETE", "/v1/api-keys/not-a-uuid")).status == 404
    assert (await globex.call("GET", "/v1/orgs")).status == 200
