"""CRM, support and accounting apps (HubSpot, Salesforce, Pipedrive, Zendesk, QuickBooks
Online): each action runs against a fake speaking the provider's documented API, reached
through the catalog's own api_base_url (its host swapped for the fake's) with the connection's
credentials put on by ``ActionContext.call_api``; provider errors become ActionError kinds."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from shared.connectors import ACTIONS, ActionContext, ActionError
from shared.connectors.catalog import fill, load_catalog
from shared.infra.outbound import OutboundClient
from tests.fakes import StartFake
from tests.fakes.apps import AppApis, AppState, Recorded
from tests.fakes.apps.quickbooks import REALM_ID

SLUGS = ["hubspot", "salesforce", "pipedrive", "zendesk", "quickbooks"]
TOKEN = "crm_access_token_1"
ZENDESK_EMAIL = "agent@acme.com"
ZENDESK_API_TOKEN = "zd_api_token_1"
# The connection fields each app learns while connecting or is given by the end user.
FIELDS = {
    "salesforce": {"instance_url": "https://acme.my.salesforce.com"},
    "pipedrive": {"api_domain": "https://acme.pipedrive.com"},
    "zendesk": {"subdomain": "acme", "email": ZENDESK_EMAIL},
    "quickbooks": {"realm_id": REALM_ID},
}
IDEMPOTENCY_KEY = "exec-1:step-1"


@pytest.fixture
async def apis(start_fake: StartFake) -> AppApis:
    """The five fake APIs, each accepting the test's credentials."""
    apis = await start_fake(AppApis(SLUGS))
    for slug in SLUGS:
        apis.apps[slug].valid_credentials.add(TOKEN)
    apis.apps["zendesk"].valid_credentials = {f"{ZENDESK_EMAIL}/token:{ZENDESK_API_TOKEN}"}
    return apis


def context(
    apis: AppApis, slug: str, client: OutboundClient, *, credential: str | None = None
) -> ActionContext:
    """A step's context for ``slug``: the catalog's api_base_url filled with the connection's
    fields, its scheme and host replaced by the fake's."""
    app = load_catalog().get(slug)
    assert app is not None
    assert app.api_base_url is not None
    fields = FIELDS.get(slug, {})
    filled = fill(app.api_base_url, base_url="", fields=fields)
    assert "{" not in filled
    if app.auth_kind == "oauth2":
        credentials = {"access_token": credential or TOKEN, "refresh_token": "rt"}
    else:
        credentials = {"api_token": credential or ZENDESK_API_TOKEN}
    return ActionContext(
        credentials=credentials,
        api_base_url=apis.api_url(slug) + urlsplit(filled).path,
        idempotency_key=IDEMPOTENCY_KEY,
        client=client,
        app=app,
        fields=fields,
    )


async def run(ctx: ActionContext, name: str, given: dict[str, Any]) -> Any:
    """Run one action as a workflow step does: its input validated by its model."""
    action = ACTIONS[name]
    return await action.run(ctx, action.input_model.model_validate(given))


def last_call(state: AppState) -> Recorded:
    """The last call the fake answered."""
    assert state.calls, "the fake received no call"
    return state.calls[-1]


def assert_bearer(call: Recorded) -> None:
    """The call carried the connection's token and the step's idempotency key."""
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.headers["Idempotency-Key"] == IDEMPOTENCY_KEY


# --- HubSpot -----------------------------------------------------------------------------


async def test_hubspot_create_contact_sends_properties(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    ctx = context(apis, "hubspot", loopback_allowed)
    given = {
        "email": "ada@acme.com",
        "firstname": "Ada",
        "lastname": "Lovelace",
        "company": "Acme",
        "properties": {"jobtitle": "Engineer"},
    }
    created = await run(ctx, "hubspot.create_contact", given)
    call = last_call(apis.apps["hubspot"])
    assert (call.method, call.path) == ("POST", "/crm/v3/objects/contacts")
    assert call.body == {
        "properties": {
            "email": "ada@acme.com",
            "firstname": "Ada",
            "lastname": "Lovelace",
            "company": "Acme",
            "jobtitle": "Engineer",
        }
    }
    assert_bearer(call)
    assert created["id"] in apis.apps["hubspot"].data["contacts"]
    assert created["properties"]["email"] == "ada@acme.com"
    assert set(created) == {"id", "properties", "createdAt", "updatedAt"}


async def test_hubspot_update_and_search_contacts(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    ctx = context(apis, "hubspot", loopback_allowed)
    contact = await run(ctx, "hubspot.create_contact", {"email": "bo@acme.com"})
    updated = await run(
        ctx, "hubspot.update_contact", {"contact_id": contact["id"], "phone": "+44 20 7946 0000"}
    )
    call = last_call(apis.apps["hubspot"])
    assert (call.method, call.path) == ("PATCH", f"/crm/v3/objects/contacts/{contact['id']}")
    assert call.body == {"properties": {"phone": "+44 20 7946 0000"}}
    assert updated["properties"]["phone"] == "+44 20 7946 0000"

    found = await run(ctx, "hubspot.search_contacts", {"email": "bo@acme.com", "limit": 5})
    call = last_call(apis.apps["hubspot"])
    assert (call.method, call.path) == ("POST", "/crm/v3/objects/contacts/search")
    assert call.body["filterGroups"] == [
        {"filters": [{"propertyName": "email", "operator": "EQ", "value": "bo@acme.com"}]}
    ]
    assert call.body["limit"] == 5
    assert found["total"] == 1
    assert found["results"][0]["id"] == contact["id"]
    assert found["results"][0]["properties"]["phone"] == "+44 20 7946 0000"


async def test_hubspot_deal_and_note_are_associated_with_the_contact(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    ctx = context(apis, "hubspot", loopback_allowed)
    contact = await run(ctx, "hubspot.create_contact", {"email": "cy@acme.com"})
    deal = await run(
        ctx,
        "hubspot.create_deal",
        {
            "dealname": "Acme renewal",
            "amount": 2500000.5,
            "closedate": "2026-12-31T12:00:00+01:00",
            "contact_id": contact["id"],
        },
    )
    call = last_call(apis.apps["hubspot"])
    assert (call.method, call.path) == ("POST", "/crm/v3/objects/deals")
    assert call.body["properties"] == {
        "dealname": "Acme renewal",
        "dealstage": "appointmentscheduled",
        "pipeline": "default",
        "amount": "2500000.5",
        "closedate": "2026-12-31T11:00:00.000Z",
    }
    assert call.body["associations"] == [
        {
            "to": {"id": contact["id"]},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
        }
    ]
    assert deal["properties"]["dealname"] == "Acme renewal"

    note = await run(ctx, "hubspot.create_note", {"contact_id": contact["id"], "body": "Called."})
    call = last_call(apis.apps["hubspot"])
    assert (call.method, call.path) == ("POST", "/crm/v3/objects/notes")
    assert call.body["properties"]["hs_note_body"] == "Called."
    assert call.body["properties"]["hs_timestamp"].endswith("Z")
    assert call.body["associations"][0]["types"][0]["associationTypeId"] == 202
    assert note["id"] in apis.apps["hubspot"].data["notes"]


async def test_hubspot_errors_become_action_errors(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    ctx = context(apis, "hubspot", loopback_allowed)
    await run(ctx, "hubspot.create_contact", {"email": "dup@acme.com"})
    with pytest.raises(ActionError) as conflict:
        await run(ctx, "hubspot.create_contact", {"email": "dup@acme.com"})
    assert (conflict.value.kind, conflict.value.status) == ("fatal", 409)
    assert "Contact already exists" in str(conflict.value)

    with pytest.raises(ActionError) as invalid:
        await run(
            ctx, "hubspot.create_contact", {"email": "x@acme.com", "properties": {"shoe": "42"}}
        )
    assert (invalid.value.kind, invalid.value.status) == ("fatal", 400)
    assert "Property values were not valid" in str(invalid.value)
    assert "PROPERTY_DOESNT_EXIST" in str(invalid.value)
    assert "shoe" in str(invalid.value)

    stale = context(apis, "hubspot", loopback_allowed, credential="expired")
    with pytest.raises(ActionError) as refused:
        await run(stale, "hubspot.search_contacts", {"email": "dup@acme.com"})
    assert (refused.value.kind, refused.value.status) == ("unauthorized", 401)
    assert "expired" not in str(refused.value)


# --- Salesforce --------------------------------------------------------------------------


async def test_salesforce_create_lead_on_the_instance_from_the_token_answer(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    ctx = context(apis, "salesforce", loopback_allowed)
    created = await run(
        ctx,
        "salesforce.create_lead",
        {"last_name": "Hopper", "first_name": "Grace", "company": "Navy", "email": "g@navy.mil"},
    )
    call = last_call(apis.apps["salesforce"])
    assert (call.method, call.path) == ("POST", "/services/data/v67.0/sobjects/Lead/")
    assert call.body == {
        "FirstName": "Grace",
        "LastName": "Hopper",
        "Email": "g@navy.mil",
        "Company": "Navy",
    }
    assert_bearer(call)
    assert created["sobject"] == "Lead"
    assert created["success"] is True
    assert created["id"].startswith("00Q")
    assert len(created["id"]) == 18


async def test_salesforce_records_update_and_query(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    ctx = context(apis, "salesforce", loopback_allowed)
    account = await run(
        ctx, "salesforce.create_record", {"sobject": "Account", "fields": {"Name": "Acme"}}
    )
    contact = await run(
        ctx,
        "salesforce.create_contact",
        {"last_name": "Turing", "account_id": account["id"], "fields": {"Level__c": "A"}},
    )
    assert last_call(apis.apps["salesforce"]).body == {
        "Level__c": "A",
        "LastName": "Turing",
        "AccountId": account["id"],
    }
    assert contact["id"].startswith("003")

    updated = await run(
        ctx,
        "salesforce.update_record",
        {"sobject": "Account", "record_id": account["id"], "fields": {"Phone": "555-0100"}},
    )
    call = last_call(apis.apps["salesforce"])
    assert (call.method, call.path) == (
        "PATCH",
        f"/services/data/v67.0/sobjects/Account/{account['id']}",
    )
    assert call.body == {"Phone": "555-0100"}
    assert updated == {"id": account["id"], "sobject": "Account", "updated": ["Phone"]}

    soql = "SELECT Id, Name, Phone FROM Account WHERE Name = 'Acme'"
    page = await run(ctx, "salesforce.query", {"soql": soql})
    call = last_call(apis.apps["salesforce"])
    assert (call.method, call.path, call.query) == (
        "GET",
        "/services/data/v67.0/query",
        {"q": soql},
    )
    assert page["totalSize"] == 1
    assert page["done"] is True
    (row,) = page["records"]
    assert (row["Id"], row["Name"], row["Phone"]) == (account["id"], "Acme", "555-0100")


async def test_salesforce_errors_become_action_errors(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    ctx = context(apis, "salesforce", loopback_allowed)
    with pytest.raises(ActionError) as missing:
        await run(
            ctx, "salesforce.create_record", {"sobject": "Lead", "fields": {"LastName": "Solo"}}
        )
    assert (missing.value.kind, missing.value.status) == ("fatal", 400)
    assert "REQUIRED_FIELD_MISSING" in str(missing.value)
    assert "Required fields are missing: [Company]" in str(missing.value)

    with pytest.raises(ActionError) as malformed:
        await run(ctx, "salesforce.query", {"soql": "SELEC Name FROM"})
    assert malformed.value.kind == "fatal"
    assert "MALFORMED_QUERY" in str(malformed.value)

    stale = context(apis, "salesforce", loopback_allowed, credential="expired")
    with pytest.raises(ActionError) as refused:
        await run(stale, "salesforce.query", {"soql": "SELECT Id FROM Lead"})
    assert (refused.value.kind, refused.value.status) == ("unauthorized", 401)


# --- Pipedrive ---------------------------------------------------------------------------


async def test_pipedrive_person_deal_and_search_on_the_api_domain(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    ctx = context(apis, "pipedrive", loopback_allowed)
    person = await run(
        ctx,
        "pipedrive.create_person",
        {"name": "Linus Pauling", "email": "linus@acme.com", "phone": "+1 555 0101"},
    )
    call = last_call(apis.apps["pipedrive"])
    assert (call.method, call.path) == ("POST", "/api/v2/persons")
    assert call.body == {
        "name": "Linus Pauling",
        "emails": [{"value": "linus@acme.com", "primary": True, "label": "work"}],
        "phones": [{"value": "+1 555 0101", "primary": True, "label": "work"}],
    }
    assert_bearer(call)
    assert person["name"] == "Linus Pauling"
    assert person["id"] in apis.apps["pipedrive"].data["persons"]

    deal = await run(
        ctx,
        "pipedrive.create_deal",
        {
            "title": "Vitamin C",
            "value": 250,
            "currency": "EUR",
            "person_id": person["id"],
            "expected_close_date": "2026-12-01",
        },
    )
    call = last_call(apis.apps["pipedrive"])
    assert (call.method, call.path) == ("POST", "/api/v2/deals")
    assert call.body == {
        "title": "Vitamin C",
        "value": 250.0,
        "currency": "EUR",
        "person_id": person["id"],
        "expected_close_date": "2026-12-01",
    }
    assert deal["person_id"] == person["id"]
    assert deal["status"] == "open"

    found = await run(ctx, "pipedrive.search_persons", {"term": "linus@acme.com"})
    call = last_call(apis.apps["pipedrive"])
    assert (call.method, call.path) == ("GET", "/api/v2/persons/search")
    assert call.query == {
        "term": "linus@acme.com",
        "fields": "email",
        "exact_match": "true",
        "limit": "10",
    }
    assert [item["item"]["id"] for item in found["items"]] == [person["id"]]
    assert found["next_cursor"] is None


async def test_pipedrive_errors_become_action_errors(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    ctx = context(apis, "pipedrive", loopback_allowed)
    with pytest.raises(ActionError) as invalid:
        await run(ctx, "pipedrive.create_deal", {"title": "Orphan", "person_id": 999999})
    assert (invalid.value.kind, invalid.value.status) == ("fatal", 400)
    assert "Person with id 999999 does not exist" in str(invalid.value)

    stale = context(apis, "pipedrive", loopback_allowed, credential="expired")
    with pytest.raises(ActionError) as refused:
        await run(stale, "pipedrive.create_person", {"name": "Nobody"})
    assert (refused.value.kind, refused.value.status) == ("unauthorized", 401)


# --- Zendesk -----------------------------------------------------------------------------


async def test_zendesk_ticket_comment_and_read_with_api_token_auth(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    ctx = context(apis, "zendesk", loopback_allowed)
    ticket = await run(
        ctx,
        "zendesk.create_ticket",
        {
            "subject": "Printer on fire",
            "body": "Smoke everywhere.",
            "requester_email": "moss@acme.com",
            "requester_name": "Maurice Moss",
            "priority": "urgent",
            "tags": ["hardware"],
        },
    )
    call = last_call(apis.apps["zendesk"])
    assert (call.method, call.path) == ("POST", "/api/v2/tickets.json")
    assert call.body == {
        "ticket": {
            "subject": "Printer on fire",
            "comment": {"body": "Smoke everywhere."},
            "requester": {"email": "moss@acme.com", "name": "Maurice Moss"},
            "priority": "urgent",
            "tags": ["hardware"],
        }
    }
    scheme, _, encoded = call.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"{ZENDESK_EMAIL}/token:{ZENDESK_API_TOKEN}"
    assert ticket["subject"] == "Printer on fire"
    assert ticket["status"] == "new"

    commented = await run(
        ctx,
        "zendesk.add_comment",
        {
            "ticket_id": ticket["id"],
            "body": "Extinguisher sent.",
            "public": False,
            "status": "pending",
        },
    )
    call = last_call(apis.apps["zendesk"])
    assert (call.method, call.path) == ("PUT", f"/api/v2/tickets/{ticket['id']}.json")
    assert call.body == {
        "ticket": {"comment": {"body": "Extinguisher sent.", "public": False}, "status": "pending"}
    }
    assert commented["status"] == "pending"
    stored = apis.apps["zendesk"].data["tickets"][ticket["id"]]
    assert stored["comments"][-1] == {
        "body": "Extinguisher sent.",
        "public": False,
        "author_id": 7001,
    }

    read = await run(ctx, "zendesk.get_ticket", {"ticket_id": ticket["id"]})
    assert last_call(apis.apps["zendesk"]).path == f"/api/v2/tickets/{ticket['id']}.json"
    assert read["id"] == ticket["id"]
    assert read["requester_id"] == ticket["requester_id"]

    users = await run(ctx, "zendesk.search_users", {"query": "moss@acme.com"})
    call = last_call(apis.apps["zendesk"])
    assert (call.path, call.query) == ("/api/v2/users/search.json", {"query": "moss@acme.com"})
    assert [u["id"] for u in users["users"]] == [ticket["requester_id"]]
    assert users["count"] == 1


async def test_zendesk_errors_become_action_errors(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    ctx = context(apis, "zendesk", loopback_allowed)
    apis.apps["zendesk"].data["rate_limited_for"] = 37
    with pytest.raises(ActionError) as limited:
        await run(ctx, "zendesk.get_ticket", {"ticket_id": 1})
    assert (limited.value.kind, limited.value.status) == ("retryable", 429)
    assert limited.value.retry_after == 37.0

    with pytest.raises(ActionError) as missing:
        await run(ctx, "zendesk.add_comment", {"ticket_id": 424242, "body": "Hello?"})
    assert (missing.value.kind, missing.value.status) == ("fatal", 404)
    assert "RecordNotFound" in str(missing.value)

    wrong = context(apis, "zendesk", loopback_allowed, credential="not-the-token")
    with pytest.raises(ActionError) as refused:
        await run(wrong, "zendesk.create_ticket", {"subject": "s", "body": "b"})
    assert (refused.value.kind, refused.value.status) == ("unauthorized", 401)
    assert "not-the-token" not in str(refused.value)


async def test_zendesk_verify_call_refuses_a_wrong_token_where_users_me_would_not(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    app = load_catalog().get("zendesk")
    assert app is not None
    assert app.verify is not None
    wrong = context(apis, "zendesk", loopback_allowed, credential="not-the-token")
    me = await wrong.call_api("GET", "/users/me.json")
    assert me.status == 200  # Zendesk's anonymous user: useless as a check
    assert (await wrong.call_api(app.verify.method, app.verify.path)).status == 401
    right = context(apis, "zendesk", loopback_allowed)
    assert (await right.call_api(app.verify.method, app.verify.path)).status == 200


# --- QuickBooks Online -------------------------------------------------------------------


async def test_quickbooks_customer_invoice_and_query_in_the_realm(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    ctx = context(apis, "quickbooks", loopback_allowed)
    customer = await run(
        ctx,
        "quickbooks.create_customer",
        {
            "display_name": "Acme Ltd",
            "given_name": "Wile",
            "family_name": "Coyote",
            "email": "wile@acme.com",
            "phone": "555-0199",
        },
    )
    call = last_call(apis.apps["quickbooks"])
    assert (call.method, call.path) == ("POST", f"/v3/company/{REALM_ID}/customer")
    assert call.query == {"minorversion": "75"}
    assert call.headers["Accept"] == "application/json"
    assert call.body == {
        "DisplayName": "Acme Ltd",
        "GivenName": "Wile",
        "FamilyName": "Coyote",
        "PrimaryEmailAddr": {"Address": "wile@acme.com"},
        "PrimaryPhone": {"FreeFormNumber": "555-0199"},
    }
    assert_bearer(call)
    assert customer["DisplayName"] == "Acme Ltd"
    assert customer["SyncToken"] == "0"

    invoice = await run(
        ctx,
        "quickbooks.create_invoice",
        {
            "customer_id": customer["Id"],
            "lines": [
                {
                    "amount": 100,
                    "item_id": "1",
                    "description": "Anvil",
                    "quantity": 2,
                    "unit_price": 50,
                },
                {"amount": 25.5},
            ],
            "due_date": "2026-12-31",
        },
    )
    call = last_call(apis.apps["quickbooks"])
    assert (call.method, call.path) == ("POST", f"/v3/company/{REALM_ID}/invoice")
    assert call.body == {
        "CustomerRef": {"value": customer["Id"]},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": 100.0,
                "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 2.0, "UnitPrice": 50.0},
                "Description": "Anvil",
            },
            {"DetailType": "SalesItemLineDetail", "Amount": 25.5, "SalesItemLineDetail": {}},
        ],
        "DueDate": "2026-12-31",
    }
    assert invoice["TotalAmt"] == 125.5
    assert invoice["CustomerRef"] == {"value": customer["Id"], "name": "Acme Ltd"}

    found = await run(
        ctx, "quickbooks.query", {"query": "select * from Customer where DisplayName = 'Acme Ltd'"}
    )
    call = last_call(apis.apps["quickbooks"])
    assert (call.method, call.path) == ("GET", f"/v3/company/{REALM_ID}/query")
    assert call.query == {
        "query": "select * from Customer where DisplayName = 'Acme Ltd'",
        "minorversion": "75",
    }
    assert [c["Id"] for c in found["Customer"]] == [customer["Id"]]


async def test_quickbooks_faults_become_action_errors(
    apis: AppApis, loopback_allowed: OutboundClient
) -> None:
    ctx = context(apis, "quickbooks", loopback_allowed)
    await run(ctx, "quickbooks.create_customer", {"display_name": "Twice"})
    with pytest.raises(ActionError) as duplicate:
        await run(ctx, "quickbooks.create_customer", {"display_name": "Twice"})
    assert (duplicate.value.kind, duplicate.value.status) == ("fatal", 400)
    assert "Duplicate Name Exists Error" in str(duplicate.value)

    with pytest.raises(ActionError) as unknown:
        await run(
            ctx, "quickbooks.create_invoice", {"customer_id": "404", "lines": [{"amount": 1}]}
        )
    assert unknown.value.kind == "fatal"
    assert "Invalid Reference Id" in str(unknown.value)

    with pytest.raises(ActionError) as unparsable:
        await run(ctx, "quickbooks.query", {"query": "select from"})
    assert unparsable.value.kind == "fatal"
    assert "Error parsing query" in str(unparsable.value)

    stale = context(apis, "quickbooks", loopback_allowed, credential="expired")
    with pytest.raises(ActionError) as refused:
        await run(stale, "quickbooks.query", {"query": "select * from Customer"})
    assert (refused.value.kind, refused.value.status) == ("unauthorized", 401)


# --- Input models ------------------------------------------------------------------------

BAD_INPUTS = [
    ("hubspot.create_contact", {"email": "not-an-email"}, "email"),
    ("hubspot.create_contact", {"email": "a@b.co", "color": "red"}, "color"),
    ("hubspot.update_contact", {"contact_id": "12"}, "at least one property"),
    ("hubspot.update_contact", {"contact_id": "abc", "phone": "1"}, "contact_id"),
    ("hubspot.search_contacts", {"email": "a@b.co", "limit": 101}, "limit"),
    ("hubspot.create_deal", {"dealname": "", "amount": 1}, "dealname"),
    ("hubspot.create_deal", {"dealname": "d", "amount": -1}, "amount"),
    ("hubspot.create_note", {"contact_id": "1"}, "body"),
    ("salesforce.create_record", {"sobject": "Lead; DROP", "fields": {"A": 1}}, "sobject"),
    ("salesforce.create_record", {"sobject": "Lead", "fields": {}}, "fields"),
    (
        "salesforce.update_record",
        {"sobject": "Lead", "record_id": "x", "fields": {"A": 1}},
        "record_id",
    ),
    ("salesforce.query", {"soql": ""}, "soql"),
    ("salesforce.create_lead", {"last_name": "Solo"}, "company"),
    ("salesforce.create_contact", {"first_name": "Ann"}, "last_name"),
    ("pipedrive.create_person", {"name": ""}, "name"),
    ("pipedrive.create_deal", {"title": "t", "currency": "euro"}, "currency"),
    ("pipedrive.search_persons", {"term": "a"}, "term"),
    ("pipedrive.search_persons", {"term": "ab", "fields": ["address"]}, "fields"),
    ("zendesk.create_ticket", {"subject": "s", "body": "b", "priority": "asap"}, "priority"),
    ("zendesk.add_comment", {"ticket_id": 0, "body": "b"}, "ticket_id"),
    ("zendesk.get_ticket", {}, "ticket_id"),
    ("zendesk.search_users", {"query": ""}, "query"),
    ("quickbooks.create_customer", {"email": "a@b.co"}, "display_name"),
    ("quickbooks.create_invoice", {"customer_id": "1", "lines": []}, "lines"),
    ("quickbooks.query", {"query": "delete from Customer"}, "query"),
]


@pytest.mark.parametrize(("name", "given", "named"), BAD_INPUTS)
def test_each_input_model_rejects_bad_input_clearly(
    name: str, given: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError) as rejected:
        ACTIONS[name].input_model.model_validate(given)
    assert named in str(rejected.value)


def test_every_action_of_these_apps_has_a_bad_input_case() -> None:
    names = {a.name for a in ACTIONS.values() if a.app in SLUGS}
    assert names == {name for name, _, _ in BAD_INPUTS}
