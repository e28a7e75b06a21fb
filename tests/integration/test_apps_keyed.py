"""API-key apps (Stripe, SendGrid): each action runs against a fake speaking the provider's
documented API, reached through the catalog's own api_base_url (its host swapped for the
fake's) with the key put on by the catalog's ``request_auth``; provider errors become
ActionError kinds, and the catalog's ``verify`` call tells a good key from a wrong one."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest

from shared.connectors import ACTIONS
from shared.connectors.base import ActionContext
from shared.connectors.catalog import App, load_catalog
from shared.connectors.verify import VerificationFailed, verify_credentials
from shared.infra.outbound import OutboundClient
from tests.app_fixtures import (
    Connect,
    action_failure,
    connector,
    input_rejection,
    last_call,
    only_call,
    refused_failure,
    run_action,
    start_app_apis,
)
from tests.fakes import StartFake
from tests.fakes.apps import AppApis

SLUGS = ["stripe", "sendgrid"]
STRIPE_KEY = "sk_test_51FakeKeyForLinkportTests0001"
SENDGRID_KEY = "SG.fakekeyforlinkport.tests0000000000000000000000000000000001"
WRONG_STRIPE_KEY = "sk_test_51WrongKeyNobodyIssued9999"
LIST_ID = "ca7a3796-e8a8-4029-9ccb-df8937940562"


@pytest.fixture
async def apis(start_fake: StartFake) -> AppApis:
    """The two fake APIs, each accepting its own key."""
    apis = await start_app_apis(start_fake, slugs=SLUGS, credentials=[])
    apis.apps["stripe"].valid_credentials = {STRIPE_KEY}
    apis.apps["sendgrid"].valid_credentials = {SENDGRID_KEY}
    return apis


@pytest.fixture
def connect(apis: AppApis, loopback_allowed: OutboundClient) -> Connect:
    """Connections to the two fakes, holding STRIPE_KEY unless told another key."""
    return connector(apis=apis, client=loopback_allowed, token=STRIPE_KEY)


def step(connect: Connect, slug: str, key: str, *, idempotency_key: str) -> ActionContext:
    """A context for another workflow step (its own Idempotency-Key) on ``slug``."""
    return replace(connect(slug, token=key), idempotency_key=idempotency_key)


# --- Stripe ------------------------------------------------------------------------------


async def test_stripe_create_customer_sends_a_form_with_flattened_metadata(
    apis: AppApis, connect: Connect
) -> None:
    created = await run_action(
        "stripe.create_customer",
        ctx=connect("stripe"),
        given={
            "email": "ada@acme.com",
            "name": "Ada Lovelace",
            "description": "Analytical engines",
            "metadata": {"plan": "pro", "crm_id": "42"},
        },
    )
    call = only_call(apis.apps["stripe"], bearer=STRIPE_KEY)
    assert (call.method, call.path) == ("POST", "/v1/customers")
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.body == {
        "email": "ada@acme.com",
        "name": "Ada Lovelace",
        "description": "Analytical engines",
        "metadata[plan]": "pro",
        "metadata[crm_id]": "42",
    }
    assert created["id"].startswith("cus_")
    assert created["object"] == "customer"
    assert (created["email"], created["name"]) == ("ada@acme.com", "Ada Lovelace")
    assert created["metadata"] == {"plan": "pro", "crm_id": "42"}
    assert set(apis.apps["stripe"].data["customers"]) == {created["id"]}


async def test_stripe_a_retried_step_gets_its_first_customer_back(
    apis: AppApis, connect: Connect
) -> None:
    ctx = connect("stripe")
    given = {"email": "bo@acme.com"}
    first = await run_action("stripe.create_customer", ctx=ctx, given=given)
    again = await run_action("stripe.create_customer", ctx=ctx, given=given)
    assert again == first
    assert list(apis.apps["stripe"].data["customers"]) == [first["id"]]
    assert last_call(apis.apps["stripe"]).headers["Idempotency-Key"] == ctx.idempotency_key

    reused = await action_failure(
        "stripe.create_customer", ctx=ctx, given={"email": "someone.else@acme.com"}
    )
    assert (reused.kind, reused.status) == ("fatal", 400)
    assert "idempotency_error" in str(reused)


async def test_stripe_list_customers_by_email_a_page_at_a_time(
    apis: AppApis, connect: Connect
) -> None:
    made = [
        await run_action(
            "stripe.create_customer",
            ctx=step(connect, "stripe", STRIPE_KEY, idempotency_key=f"exec-1:step-{n}"),
            given={"email": email},
        )
        for n, email in enumerate(["cy@acme.com", "cy@acme.com", "cy@acme.com", "di@acme.com"])
    ]
    ctx = connect("stripe")
    page = await run_action(
        "stripe.list_customers", ctx=ctx, given={"email": "cy@acme.com", "limit": 2}
    )
    call = last_call(apis.apps["stripe"], bearer=STRIPE_KEY)
    assert (call.method, call.path) == ("GET", "/v1/customers")
    assert call.query == {"email": "cy@acme.com", "limit": "2"}
    assert [c["id"] for c in page["customers"]] == [made[2]["id"], made[1]["id"]]
    assert page["has_more"] is True

    rest = await run_action(
        "stripe.list_customers",
        ctx=ctx,
        given={"email": "cy@acme.com", "limit": 2, "starting_after": made[1]["id"]},
    )
    assert last_call(apis.apps["stripe"]).query["starting_after"] == made[1]["id"]
    assert [c["id"] for c in rest["customers"]] == [made[0]["id"]]
    assert rest["has_more"] is False


async def test_stripe_create_invoice_item_for_a_customer(apis: AppApis, connect: Connect) -> None:
    customer = await run_action(
        "stripe.create_customer",
        ctx=step(connect, "stripe", STRIPE_KEY, idempotency_key="exec-1:step-0"),
        given={"email": "ed@acme.com"},
    )
    item = await run_action(
        "stripe.create_invoice_item",
        ctx=connect("stripe"),
        given={
            "customer": customer["id"],
            "amount": 2500,
            "currency": "eur",
            "description": "Onboarding",
            "metadata": {"order": "A-17"},
        },
    )
    call = last_call(apis.apps["stripe"], bearer=STRIPE_KEY)
    assert (call.method, call.path) == ("POST", "/v1/invoiceitems")
    assert call.body == {
        "customer": customer["id"],
        "amount": "2500",
        "currency": "eur",
        "description": "Onboarding",
        "metadata[order]": "A-17",
    }
    assert item["id"].startswith("ii_")
    assert (item["object"], item["amount"], item["currency"]) == ("invoiceitem", 2500, "eur")
    assert (item["customer"], item["invoice"]) == (customer["id"], None)
    assert item["metadata"] == {"order": "A-17"}


async def test_stripe_a_rejected_call_is_fatal_with_stripes_message(connect: Connect) -> None:
    missing = await action_failure(
        "stripe.create_invoice_item",
        ctx=connect("stripe"),
        given={"customer": "cus_Nobody", "amount": 100, "currency": "usd"},
    )
    assert (missing.kind, missing.status) == ("fatal", 400)
    assert "No such customer: 'cus_Nobody'" in str(missing)
    assert "resource_missing" in str(missing)


async def test_stripe_answers_a_wrong_key_masked(apis: AppApis, connect: Connect) -> None:
    wrong = connect("stripe", token=WRONG_STRIPE_KEY)
    answer = await wrong.call_api("GET", "/customers")
    assert answer.status == 401
    assert WRONG_STRIPE_KEY.encode() not in answer.body
    assert b"Invalid API Key provided: sk_test_****" in answer.body


# --- SendGrid ----------------------------------------------------------------------------


async def test_sendgrid_send_email_returns_the_message_id_of_the_202(
    apis: AppApis, connect: Connect
) -> None:
    sent = await run_action(
        "sendgrid.send_email",
        ctx=connect("sendgrid", token=SENDGRID_KEY),
        given={
            "to": [{"email": "ada@acme.com", "name": "Ada"}, {"email": "bo@acme.com"}],
            "from_email": "noreply@linkport.dev",
            "from_name": "Linkport",
            "reply_to": "help@linkport.dev",
            "subject": "Your report",
            "html": "<p>Ready.</p>",
            "text": "Ready.",
        },
    )
    call = only_call(apis.apps["sendgrid"], bearer=SENDGRID_KEY)
    assert (call.method, call.path) == ("POST", "/v3/mail/send")
    assert call.body == {
        "personalizations": [
            {"to": [{"email": "ada@acme.com", "name": "Ada"}, {"email": "bo@acme.com"}]}
        ],
        "from": {"email": "noreply@linkport.dev", "name": "Linkport"},
        "subject": "Your report",
        "content": [
            {"type": "text/plain", "value": "Ready."},
            {"type": "text/html", "value": "<p>Ready.</p>"},
        ],
        "reply_to": {"email": "help@linkport.dev"},
    }
    (message_id,) = apis.apps["sendgrid"].data["sent"]
    assert sent == {"accepted": True, "message_id": message_id}


async def test_sendgrid_add_contact_queues_an_upsert_job(apis: AppApis, connect: Connect) -> None:
    queued = await run_action(
        "sendgrid.add_contact",
        ctx=connect("sendgrid", token=SENDGRID_KEY),
        given={
            "email": "cy@acme.com",
            "first_name": "Cy",
            "last_name": "Young",
            "list_ids": [LIST_ID],
        },
    )
    call = only_call(apis.apps["sendgrid"], bearer=SENDGRID_KEY)
    assert (call.method, call.path) == ("PUT", "/v3/marketing/contacts")
    assert call.body == {
        "contacts": [{"email": "cy@acme.com", "first_name": "Cy", "last_name": "Young"}],
        "list_ids": [LIST_ID],
    }
    assert set(queued) == {"job_id"}
    assert queued["job_id"] in apis.apps["sendgrid"].data["jobs"]
    assert apis.apps["sendgrid"].data["contacts"]["cy@acme.com"]["list_ids"] == [LIST_ID]


async def test_sendgrid_a_rejected_mail_is_fatal_with_sendgrids_message(
    apis: AppApis, connect: Connect
) -> None:
    rejected = await action_failure(
        "sendgrid.send_email",
        ctx=connect("sendgrid", token=SENDGRID_KEY),
        given={
            "to": [{"email": "ada@acme.com"}, {"email": "ada@acme.com"}],
            "from_email": "noreply@linkport.dev",
            "subject": "Twice",
            "text": "Hello",
        },
    )
    assert (rejected.kind, rejected.status) == ("fatal", 400)
    assert "You have included ada@acme.com more than once" in str(rejected)
    assert "personalizations.0.to" in str(rejected)
    assert apis.apps["sendgrid"].data["sent"] == {}


# --- Refused keys ------------------------------------------------------------------------

REFUSED = [
    ("stripe.create_customer", {"email": "a@acme.com"}),
    ("stripe.list_customers", {}),
    ("stripe.create_invoice_item", {"customer": "cus_A", "amount": 1, "currency": "usd"}),
    (
        "sendgrid.send_email",
        {"to": [{"email": "a@acme.com"}], "from_email": "b@acme.com", "subject": "s", "text": "t"},
    ),
    ("sendgrid.add_contact", {"email": "a@acme.com"}),
]


@pytest.mark.parametrize(("name", "given"), REFUSED)
async def test_a_refused_key_is_unauthorized(
    connect: Connect, name: str, given: dict[str, Any]
) -> None:
    key = "sk_test_RevokedKey000000000000" if name.startswith("stripe.") else "SG.revoked.key"
    await refused_failure(name, connect=connect, token=key, given=given)


# --- Verification --------------------------------------------------------------------------


def on_fake(apis: AppApis, slug: str) -> App:
    """``slug``'s catalog entry with its API host swapped for the fake's."""
    app = load_catalog().get(slug)
    assert app is not None
    assert app.api_base_url is not None
    return app.model_copy(
        update={"api_base_url": apis.api_url(slug) + urlsplit(app.api_base_url).path}
    )


@pytest.mark.parametrize(
    ("slug", "good", "wrong", "verify_path"),
    [
        ("stripe", STRIPE_KEY, WRONG_STRIPE_KEY, "/v1/balance"),
        ("sendgrid", SENDGRID_KEY, "SG.wrong.key-nobody-issued", "/v3/scopes"),
    ],
)
async def test_verification_makes_the_catalogs_verify_call(
    apis: AppApis,
    loopback_allowed: OutboundClient,
    slug: str,
    good: str,
    wrong: str,
    verify_path: str,
) -> None:
    app = on_fake(apis, slug)

    async def verify(key: str) -> None:
        await verify_credentials(
            http=loopback_allowed,
            app=app,
            credentials={"kind": "api_key", "api_key": key},
            fields={},
            base_url="http://127.0.0.1:8080",
        )

    await verify(good)
    call = only_call(apis.apps[slug])
    assert (call.method, call.path) == ("GET", verify_path)
    assert call.headers["Authorization"] == f"Bearer {good}"

    with pytest.raises(VerificationFailed) as refused:
        await verify(wrong)
    assert refused.value.message == f"the API key was refused by {app.name}"
    assert wrong not in str(refused.value)
    assert last_call(apis.apps[slug]).path == verify_path


# --- Input models ------------------------------------------------------------------------

BAD_INPUTS = [
    ("stripe.create_customer", {"email": "not-an-email"}, "email"),
    ("stripe.create_customer", {"metadata": {"a[b]": "1"}}, "square brackets"),
    ("stripe.create_customer", {"metadata": {"k": "v" * 501}}, "500"),
    ("stripe.create_customer", {"phone": "1"}, "phone"),
    ("stripe.list_customers", {"limit": 101}, "limit"),
    ("stripe.list_customers", {"starting_after": "abc"}, "starting_after"),
    (
        "stripe.create_invoice_item",
        {"customer": "cus_A", "amount": 1, "currency": "USD"},
        "currency",
    ),
    ("stripe.create_invoice_item", {"customer": "bob", "amount": 1, "currency": "usd"}, "customer"),
    ("stripe.create_invoice_item", {"customer": "cus_A", "currency": "usd"}, "amount"),
    ("sendgrid.send_email", {"to": [], "from_email": "a@b.co", "subject": "s", "text": "t"}, "to"),
    (
        "sendgrid.send_email",
        {"to": [{"email": "a@b.co"}], "from_email": "a@b.co", "subject": "s"},
        "text or an html body",
    ),
    (
        "sendgrid.send_email",
        {"to": [{"email": "x"}], "from_email": "a@b.co", "subject": "s", "text": "t"},
        "email",
    ),
    ("sendgrid.add_contact", {"email": "a@b.co", "list_ids": ["not-a-uuid"]}, "list_ids"),
    ("sendgrid.add_contact", {"first_name": "Ann"}, "email"),
]


@pytest.mark.parametrize(("name", "given", "named"), BAD_INPUTS)
def test_each_input_model_rejects_bad_input_clearly(
    name: str, given: dict[str, Any], named: str
) -> None:
    assert named in str(input_rejection(ACTIONS[name].input_model, given=given))


def test_every_action_of_these_apps_has_a_bad_input_case() -> None:
    names = {a.name for a in ACTIONS.values() if a.app in SLUGS}
    assert names == {name for name, _, _ in BAD_INPUTS}
