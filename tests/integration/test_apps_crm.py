"""CRM, support and accounting apps (HubSpot, Salesforce, Pipedrive, Zendesk, QuickBooks
Online): each action runs against a fake speaking the provider's documented API, reached
through the catalog's own api_base_url (its host swapped for the fake's) with the connection's
credentials put on by ``ActionContext.call_api``; provider errors become ActionError kinds."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from shared.connectors import ACTIONS
from shared.connectors.catalog import load_catalog
from shared.infra.outbound import OutboundClient
from tests.app_fixtures import (
    Connect,
    action_failure,
    connector,
    input_rejection,
    last_call,
    refused_failure,
    run_action,
    start_app_apis,
)
from tests.fakes import StartFake
from tests.fakes.apps import AppApis
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


@pytest.fixture
async def apis(start_fake: StartFake) -> AppApis:
    """The five fake APIs, each accepting the test's credentials."""
    apis = await start_app_apis(start_fake, slugs=SLUGS, credentials=[TOKEN])
    apis.apps["zendesk"].valid_credentials = {f"{ZENDESK_EMAIL}/token:{ZENDESK_API_TOKEN}"}
    return apis


@pytest.fixture
def connect(apis: AppApis, loopback_allowed: OutboundClient) -> Connect:
    """Connections to the five fakes, each with its app's fields, holding TOKEN."""
    return connector(apis=apis, client=loopback_allowed, token=TOKEN, fields=FIELDS)


# --- HubSpot -----------------------------------------------------------------------------


async def test_hubspot_create_contact_sends_properties(apis: AppApis, connect: Connect) -> None:
    ctx = connect("hubspot")
    given = {
        "email": "ada@acme.com",
        "firstname": "Ada",
        "lastname": "Lovelace",
        "company": "Acme",
        "properties": {"jobtitle": "Engineer"},
    }
    created = await run_action("hubspot.create_contact", ctx=ctx, given=given)
    call = last_call(apis.apps["hubspot"], bearer=TOKEN)
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
    assert created["id"] in apis.apps["hubspot"].data["contacts"]
    assert created["properties"]["email"] == "ada@acme.com"
    assert set(created) == {"id", "properties", "createdAt", "updatedAt"}


async def test_hubspot_update_and_search_contacts(apis: AppApis, connect: Connect) -> None:
    ctx = connect("hubspot")
    contact = await run_action("hubspot.create_contact", ctx=ctx, given={"email": "bo@acme.com"})
    updated = await run_action(
        "hubspot.update_contact",
        ctx=ctx,
        given={"contact_id": contact["id"], "phone": "+44 20 7946 0000"},
    )
    call = last_call(apis.apps["hubspot"])
    assert (call.method, call.path) == ("PATCH", f"/crm/v3/objects/contacts/{contact['id']}")
    assert call.body == {"properties": {"phone": "+44 20 7946 0000"}}
    assert updated["properties"]["phone"] == "+44 20 7946 0000"

    found = await run_action(
        "hubspot.search_contacts", ctx=ctx, given={"email": "bo@acme.com", "limit": 5}
    )
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
    apis: AppApis, connect: Connect
) -> None:
    ctx = connect("hubspot")
    contact = await run_action("hubspot.create_contact", ctx=ctx, given={"email": "cy@acme.com"})
    deal = await run_action(
        "hubspot.create_deal",
        ctx=ctx,
        given={
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

    note = await run_action(
        "hubspot.create_note", ctx=ctx, given={"contact_id": contact["id"], "body": "Called."}
    )
    call = last_call(apis.apps["hubspot"])
    assert (call.method, call.path) == ("POST", "/crm/v3/objects/notes")
    assert call.body["properties"]["hs_note_body"] == "Called."
    assert call.body["properties"]["hs_timestamp"].endswith("Z")
    assert call.body["associations"][0]["types"][0]["associationTypeId"] == 202
    assert note["id"] in apis.apps["hubspot"].data["notes"]


async def test_hubspot_errors_become_action_errors(connect: Connect) -> None:
    ctx = connect("hubspot")
    await run_action("hubspot.create_contact", ctx=ctx, given={"email": "dup@acme.com"})
    conflict = await action_failure(
        "hubspot.create_contact", ctx=ctx, given={"email": "dup@acme.com"}
    )
    assert (conflict.kind, conflict.status) == ("fatal", 409)
    assert "Contact already exists" in str(conflict)

    invalid = await action_failure(
        "hubspot.create_contact",
        ctx=ctx,
        given={"email": "x@acme.com", "properties": {"shoe": "42"}},
    )
    assert (invalid.kind, invalid.status) == ("fatal", 400)
    assert "Property values were not valid" in str(invalid)
    assert "PROPERTY_DOESNT_EXIST" in str(invalid)
    assert "shoe" in str(invalid)


# --- Salesforce --------------------------------------------------------------------------


async def test_salesforce_create_lead_on_the_instance_from_the_token_answer(
    apis: AppApis, connect: Connect
) -> None:
    ctx = connect("salesforce")
    created = await run_action(
        "salesforce.create_lead",
        ctx=ctx,
        given={
            "last_name": "Hopper",
            "first_name": "Grace",
            "company": "Navy",
            "email": "g@navy.mil",
        },
    )
    call = last_call(apis.apps["salesforce"], bearer=TOKEN)
    assert (call.method, call.path) == ("POST", "/services/data/v67.0/sobjects/Lead/")
    assert call.body == {
        "FirstName": "Grace",
        "LastName": "Hopper",
        "Email": "g@navy.mil",
        "Company": "Navy",
    }
    assert created["sobject"] == "Lead"
    assert created["success"] is True
    assert created["id"].startswith("00Q")
    assert len(created["id"]) == 18


async def test_salesforce_records_update_and_query(apis: AppApis, connect: Connect) -> None:
    ctx = connect("salesforce")
    account = await run_action(
        "salesforce.create_record",
        ctx=ctx,
        given={"sobject": "Account", "fields": {"Name": "Acme"}},
    )
    contact = await run_action(
        "salesforce.create_contact",
        ctx=ctx,
        given={"last_name": "Turing", "account_id": account["id"], "fields": {"Level__c": "A"}},
    )
    assert last_call(apis.apps["salesforce"]).body == {
        "Level__c": "A",
        "LastName": "Turing",
        "AccountId": account["id"],
    }
    assert contact["id"].startswith("003")

    updated = await run_action(
        "salesforce.update_record",
        ctx=ctx,
        given={"sobject": "Account", "record_id": account["id"], "fields": {"Phone": "555-0100"}},
    )
    call = last_call(apis.apps["salesforce"])
    assert (call.method, call.path) == (
        "PATCH",
        f"/services/data/v67.0/sobjects/Account/{account['id']}",
    )
    assert call.body == {"Phone": "555-0100"}
    assert updated == {"id": account["id"], "sobject": "Account", "updated": ["Phone"]}

    soql = "SELECT Id, Name, Phone FROM Account WHERE Name = 'Acme'"
    page = await run_action("salesforce.query", ctx=ctx, given={"soql": soql})
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


async def test_salesforce_errors_become_action_errors(connect: Connect) -> None:
    ctx = connect("salesforce")
    missing = await action_failure(
        "salesforce.create_record",
        ctx=ctx,
        given={"sobject": "Lead", "fields": {"LastName": "Solo"}},
    )
    assert (missing.kind, missing.status) == ("fatal", 400)
    assert "REQUIRED_FIELD_MISSING" in str(missing)
    assert "Required fields are missing: [Company]" in str(missing)

    malformed = await action_failure("salesforce.query", ctx=ctx, given={"soql": "SELEC Name FROM"})
    assert malformed.kind == "fatal"
    assert "MALFORMED_QUERY" in str(malformed)


# --- Pipedrive ---------------------------------------------------------------------------


async def test_pipedrive_person_deal_and_search_on_the_api_domain(
    apis: AppApis, connect: Connect
) -> None:
    ctx = connect("pipedrive")
    person = await run_action(
        "pipedrive.create_person",
        ctx=ctx,
        given={"name": "Linus Pauling", "email": "linus@acme.com", "phone": "+1 555 0101"},
    )
    call = last_call(apis.apps["pipedrive"], bearer=TOKEN)
    assert (call.method, call.path) == ("POST", "/api/v2/persons")
    assert call.body == {
        "name": "Linus Pauling",
        "emails": [{"value": "linus@acme.com", "primary": True, "label": "work"}],
        "phones": [{"value": "+1 555 0101", "primary": True, "label": "work"}],
    }
    assert person["name"] == "Linus Pauling"
    assert person["id"] in apis.apps["pipedrive"].data["persons"]

    deal = await run_action(
        "pipedrive.create_deal",
        ctx=ctx,
        given={
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

    found = await run_action("pipedrive.search_persons", ctx=ctx, given={"term": "linus@acme.com"})
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


async def test_pipedrive_errors_become_action_errors(connect: Connect) -> None:
    ctx = connect("pipedrive")
    invalid = await action_failure(
        "pipedrive.create_deal", ctx=ctx, given={"title": "Orphan", "person_id": 999999}
    )
    assert (invalid.kind, invalid.status) == ("fatal", 400)
    assert "Person with id 999999 does not exist" in str(invalid)


# --- Zendesk -----------------------------------------------------------------------------


async def test_zendesk_ticket_comment_and_read_with_api_token_auth(
    apis: AppApis, connect: Connect
) -> None:
    ctx = connect("zendesk", token=ZENDESK_API_TOKEN)
    ticket = await run_action(
        "zendesk.create_ticket",
        ctx=ctx,
        given={
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

    commented = await run_action(
        "zendesk.add_comment",
        ctx=ctx,
        given={
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

    read = await run_action("zendesk.get_ticket", ctx=ctx, given={"ticket_id": ticket["id"]})
    assert last_call(apis.apps["zendesk"]).path == f"/api/v2/tickets/{ticket['id']}.json"
    assert read["id"] == ticket["id"]
    assert read["requester_id"] == ticket["requester_id"]

    users = await run_action("zendesk.search_users", ctx=ctx, given={"query": "moss@acme.com"})
    call = last_call(apis.apps["zendesk"])
    assert (call.path, call.query) == ("/api/v2/users/search.json", {"query": "moss@acme.com"})
    assert [u["id"] for u in users["users"]] == [ticket["requester_id"]]
    assert users["count"] == 1


async def test_zendesk_errors_become_action_errors(apis: AppApis, connect: Connect) -> None:
    ctx = connect("zendesk", token=ZENDESK_API_TOKEN)
    apis.apps["zendesk"].data["rate_limited_for"] = 37
    limited = await action_failure("zendesk.get_ticket", ctx=ctx, given={"ticket_id": 1})
    assert (limited.kind, limited.status) == ("retryable", 429)
    assert limited.retry_after == 37.0

    missing = await action_failure(
        "zendesk.add_comment", ctx=ctx, given={"ticket_id": 424242, "body": "Hello?"}
    )
    assert (missing.kind, missing.status) == ("fatal", 404)
    assert "RecordNotFound" in str(missing)


async def test_zendesk_verify_call_refuses_a_wrong_token_where_users_me_would_not(
    connect: Connect,
) -> None:
    app = load_catalog().get("zendesk")
    assert app is not None
    assert app.verify is not None
    wrong = connect("zendesk", token="not-the-token")
    me = await wrong.call_api("GET", "/users/me.json")
    assert me.status == 200  # Zendesk's anonymous user: useless as a check
    assert (await wrong.call_api(app.verify.method, app.verify.path)).status == 401
    right = connect("zendesk", token=ZENDESK_API_TOKEN)
    assert (await right.call_api(app.verify.method, app.verify.path)).status == 200


# --- QuickBooks Online -------------------------------------------------------------------


async def test_quickbooks_customer_invoice_and_query_in_the_realm(
    apis: AppApis, connect: Connect
) -> None:
    ctx = connect("quickbooks")
    customer = await run_action(
        "quickbooks.create_customer",
        ctx=ctx,
        given={
            "display_name": "Acme Ltd",
            "given_name": "Wile",
            "family_name": "Coyote",
            "email": "wile@acme.com",
            "phone": "555-0199",
        },
    )
    call = last_call(apis.apps["quickbooks"], bearer=TOKEN)
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
    assert customer["DisplayName"] == "Acme Ltd"
    assert customer["SyncToken"] == "0"

    invoice = await run_action(
        "quickbooks.create_invoice",
        ctx=ctx,
        given={
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

    found = await run_action(
        "quickbooks.query",
        ctx=ctx,
        given={"query": "select * from Customer where DisplayName = 'Acme Ltd'"},
    )
    call = last_call(apis.apps["quickbooks"])
    assert (call.method, call.path) == ("GET", f"/v3/company/{REALM_ID}/query")
    assert call.query == {
        "query": "select * from Customer where DisplayName = 'Acme Ltd'",
        "minorversion": "75",
    }
    assert [c["Id"] for c in found["Customer"]] == [customer["Id"]]


async def test_quickbooks_faults_become_action_errors(connect: Connect) -> None:
    ctx = connect("quickbooks")
    await run_action("quickbooks.create_customer", ctx=ctx, given={"display_name": "Twice"})
    duplicate = await action_failure(
        "quickbooks.create_customer", ctx=ctx, given={"display_name": "Twice"}
    )
    assert (duplicate.kind, duplicate.status) == ("fatal", 400)
    assert "Duplicate Name Exists Error" in str(duplicate)

    unknown = await action_failure(
        "quickbooks.create_invoice",
        ctx=ctx,
        given={"customer_id": "404", "lines": [{"amount": 1}]},
    )
    assert unknown.kind == "fatal"
    assert "Invalid Reference Id" in str(unknown)

    unparsable = await action_failure("quickbooks.query", ctx=ctx, given={"query": "select from"})
    assert unparsable.kind == "fatal"
    assert "Error parsing query" in str(unparsable)


# --- Refused credentials -----------------------------------------------------------------

REFUSED = [
    ("hubspot.search_contacts", {"email": "dup@acme.com"}, "expired"),
    ("salesforce.query", {"soql": "SELECT Id FROM Lead"}, "expired"),
    ("pipedrive.create_person", {"name": "Nobody"}, "expired"),
    ("zendesk.create_ticket", {"subject": "s", "body": "b"}, "not-the-token"),
    ("quickbooks.query", {"query": "select * from Customer"}, "expired"),
]


@pytest.mark.parametrize(("name", "given", "token"), REFUSED)
async def test_a_refused_credential_is_unauthorized(
    connect: Connect, name: str, given: dict[str, Any], token: str
) -> None:
    await refused_failure(name, connect=connect, token=token, given=given)


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
    assert named in str(input_rejection(ACTIONS[name].input_model, given=given))


def test_every_action_of_these_apps_has_a_bad_input_case() -> None:
    names = {a.name for a in ACTIONS.values() if a.app in SLUGS}
    assert names == {name for name, _, _ in BAD_INPUTS}
