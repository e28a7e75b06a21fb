"""Stripe's API (``https://api.stripe.com/v1``) with a secret key as bearer token: customers
(create, list), invoice items (create) and the balance. Bodies are form-encoded
(``metadata[key]=value``); errors in Stripe's shape ``{"error": {"type", "code", "message",
"param"}}``, a wrong key being 401 ``invalid_request_error`` "Invalid API Key provided:
sk_test_****1234" (the key masked, as Stripe does).

POSTs honour ``Idempotency-Key`` as Stripe does: the same key with the same request replays
the first answer (with ``Idempotent-Replayed: true``), with another request is a 400
``idempotency_error``. ``state.data``: ``customers`` (id → object, in creation order),
``invoice_items`` (id → object), ``idempotent`` (key → first request and answer)."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState, Recorded

CURRENCIES = frozenset({"usd", "eur", "gbp", "cad", "aud", "jpy", "chf", "sek"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_METADATA = re.compile(r"^metadata\[([^\[\]]+)\]$")
_serial = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_FakeStripe{next(_serial):08d}"


def stripe_error(
    message: str,
    *,
    status: int = 400,
    param: str | None = None,
    code: str | None = None,
    kind: str = "invalid_request_error",
) -> web.Response:
    """Stripe's error answer."""
    error: dict[str, Any] = {"type": kind, "message": message}
    if code is not None:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param is not None:
        error["param"] = param
    return web.json_response({"error": error}, status=status)


def _masked(key: str) -> str:
    """A key as Stripe quotes it back: its kind's prefix and last four characters."""
    prefix = next(
        (p for p in ("sk_live_", "sk_test_", "rk_live_", "rk_test_") if key.startswith(p)), ""
    )
    return (
        f"{prefix}{'*' * max(0, len(key) - len(prefix) - 4)}{key[-4:]}" if len(key) > 8 else "****"
    )


def _form(call: Recorded) -> dict[str, str]:
    return call.body if isinstance(call.body, dict) else {}


def _unknown_param(form: dict[str, str], known: set[str]) -> web.Response | None:
    for key in form:
        if key not in known and not _METADATA.match(key):
            return stripe_error(
                f"Received unknown parameter: {key}", param=key, code="parameter_unknown"
            )
    return None


def _metadata(form: dict[str, str]) -> dict[str, str]:
    return {m.group(1): v for k, v in form.items() if (m := _METADATA.match(k))}


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """Stripe's customer, invoice item and balance endpoints below ``prefix``."""
    customers: dict[str, dict[str, Any]] = state.data.setdefault("customers", {})
    items: dict[str, dict[str, Any]] = state.data.setdefault("invoice_items", {})
    idempotent: dict[str, tuple[tuple[str, str, Any], int, Any]] = state.data.setdefault(
        "idempotent", {}
    )

    def refused(request: web.Request) -> web.Response | None:
        if state.authorized(request):
            return None
        key = state.credential(request)
        if not key:
            return stripe_error(
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
                status=401,
            )
        return stripe_error(f"Invalid API Key provided: {_masked(key)}", status=401)

    async def idempotently(
        request: web.Request, call: Recorded, create: Callable[[dict[str, str]], web.Response]
    ) -> web.Response:
        """Run ``create(form)`` once per Idempotency-Key, replaying its first answer."""
        key = request.headers.get("Idempotency-Key")
        sent = (call.method, call.path, call.body)
        if key is not None and key in idempotent:
            first, status, body = idempotent[key]
            if first != sent:
                return stripe_error(
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                    kind="idempotency_error",
                )
            return web.json_response(body, status=status, headers={"Idempotent-Replayed": "true"})
        answer: web.Response = create(_form(call))
        if key is not None and answer.status < 500:
            assert answer.text is not None
            idempotent[key] = (sent, answer.status, json.loads(answer.text))
        return answer

    def create_customer(form: dict[str, str]) -> web.Response:
        if (answer := _unknown_param(form, {"email", "name", "description"})) is not None:
            return answer
        email = form.get("email")
        if email is not None and not _EMAIL.match(email):
            return stripe_error(
                f"Invalid email address: {email}", param="email", code="email_invalid"
            )
        customer_id = _id("cus")
        customer: dict[str, Any] = {
            "id": customer_id,
            "object": "customer",
            "created": int(time.time()),
            "email": email,
            "name": form.get("name"),
            "description": form.get("description"),
            "metadata": _metadata(form),
            "balance": 0,
            "currency": None,
            "delinquent": False,
            "livemode": False,
        }
        customers[customer_id] = customer
        return web.json_response(customer)

    def create_invoice_item(form: dict[str, str]) -> web.Response:
        known = {"customer", "amount", "currency", "description"}
        if (answer := _unknown_param(form, known)) is not None:
            return answer
        for required in ("customer", "currency"):
            if not form.get(required):
                return stripe_error(
                    f"Missing required param: {required}.",
                    param=required,
                    code="parameter_missing",
                )
        if form["customer"] not in customers:
            return stripe_error(
                f"No such customer: '{form['customer']}'",
                param="customer",
                code="resource_missing",
            )
        if form["currency"] not in CURRENCIES:
            return stripe_error(
                f"Invalid currency: {form['currency']}.", param="currency", code="invalid_currency"
            )
        try:
            amount = int(form.get("amount", ""))
        except ValueError:
            return stripe_error(
                f"Invalid integer: {form.get('amount', '')}",
                param="amount",
                code="parameter_invalid_integer",
            )
        item_id = _id("ii")
        item: dict[str, Any] = {
            "id": item_id,
            "object": "invoiceitem",
            "amount": amount,
            "currency": form["currency"],
            "customer": form["customer"],
            "date": int(time.time()),
            "description": form.get("description"),
            "discountable": True,
            "invoice": None,
            "livemode": False,
            "metadata": _metadata(form),
            "quantity": 1,
        }
        items[item_id] = item
        return web.json_response(item)

    @routes.post(f"{prefix}/v1/customers")
    async def post_customer(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        return await idempotently(request, call, create_customer)

    @routes.get(f"{prefix}/v1/customers")
    async def list_customers(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        query = call.query
        try:
            limit = int(query.get("limit", "10"))
        except ValueError:
            return stripe_error(
                f"Invalid integer: {query['limit']}",
                param="limit",
                code="parameter_invalid_integer",
            )
        if not 1 <= limit <= 100:
            return stripe_error(
                "This value must be greater than or equal to 1."
                if limit < 1
                else "This value must be less than or equal to 100.",
                param="limit",
            )
        newest_first = list(reversed(customers.values()))
        if "email" in query:
            newest_first = [c for c in newest_first if c["email"] == query["email"]]
        after = query.get("starting_after")
        if after is not None:
            ids = [c["id"] for c in newest_first]
            if after not in ids:
                return stripe_error(
                    f"No such customer: '{after}'", param="starting_after", code="resource_missing"
                )
            newest_first = newest_first[ids.index(after) + 1 :]
        page = newest_first[:limit]
        return web.json_response(
            {
                "object": "list",
                "url": "/v1/customers",
                "has_more": len(newest_first) > limit,
                "data": page,
            }
        )

    @routes.post(f"{prefix}/v1/invoiceitems")
    async def post_invoice_item(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        return await idempotently(request, call, create_invoice_item)

    @routes.get(f"{prefix}/v1/balance")
    async def balance(request: web.Request) -> web.Response:
        await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        funds = [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}]
        return web.json_response(
            {"object": "balance", "available": funds, "pending": funds, "livemode": False}
        )
