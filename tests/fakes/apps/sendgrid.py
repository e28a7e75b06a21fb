"""SendGrid's v3 API (``https://api.sendgrid.com/v3``) with an API key as bearer token: mail
send, marketing contact upserts and the key's scopes. Errors in SendGrid's shape ``{"errors":
[{"message", "field", "help"}]}``; a wrong key is 401 "The provided authorization grant is
invalid, expired, or revoked".

Mail send answers 202 with an empty body and the message's id in ``X-Message-Id``; a contact
upsert answers 202 ``{"job_id"}``. ``state.data``: ``sent`` (X-Message-Id → the mail as
received), ``contacts`` (email → contact), ``jobs`` (job id → the contacts it upserted)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web

from tests.fakes.apps import AppState

SCOPES = ["mail.send", "marketing.read", "marketing.write", "scopes.read"]
_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def sendgrid_errors(*errors: tuple[str, str | None, str | None], status: int = 400) -> web.Response:
    """SendGrid's error answer: one ``(message, field, help)`` per error."""
    body = {"errors": [{"message": m, "field": f, "help": h} for m, f, h in errors]}
    return web.json_response(body, status=status)


def _mail_errors(mail: Any) -> list[tuple[str, str | None, str | None]]:
    """What SendGrid's mail send validation says of ``mail`` (nothing: it is sendable)."""
    if not isinstance(mail, dict):
        return [("Bad Request", None, None)]
    errors: list[tuple[str, str | None, str | None]] = []
    personalizations = mail.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        errors.append(
            (
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
                f"{_HELP}#-Personalizations-Errors",
            )
        )
    else:
        for p, personalization in enumerate(personalizations):
            recipients = personalization.get("to") if isinstance(personalization, dict) else None
            if not isinstance(recipients, list) or not recipients:
                errors.append(
                    (
                        "The to array is required for all personalization objects, and must "
                        "have at least one email object with a valid email address.",
                        f"personalizations.{p}.to",
                        f"{_HELP}#message.personalizations.to",
                    )
                )
                continue
            addresses = [str((r or {}).get("email", "")).lower() for r in recipients]
            repeated = next((a for a in addresses if addresses.count(a) > 1), None)
            if repeated is not None:
                errors.append(
                    (
                        "Each unique email address in the personalizations array should only "
                        f"be included once. You have included {repeated} more than once.",
                        f"personalizations.{p}.to",
                        f"{_HELP}#message.personalizations.to",
                    )
                )
            for t, recipient in enumerate(recipients):
                if not _EMAIL.match(str((recipient or {}).get("email", ""))):
                    errors.append(
                        (
                            "Does not contain a valid address.",
                            f"personalizations.{p}.to.{t}.email",
                            f"{_HELP}#message.personalizations.to",
                        )
                    )
    sender = mail.get("from")
    if not isinstance(sender, dict):
        errors.append(
            (
                "The from object must be provided for every email send. It is an object that "
                "requires the email parameter, but may also contain a name parameter.",
                "from",
                f"{_HELP}#message.from",
            )
        )
    elif not _EMAIL.match(str(sender.get("email", ""))):
        errors.append(
            (
                "The from email does not contain a valid address.",
                "from.email",
                f"{_HELP}#message.from",
            )
        )
    if not mail.get("subject"):
        errors.append(
            (
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject "
                "defined.",
                "subject",
                f"{_HELP}#message.subject",
            )
        )
    content = mail.get("content")
    if not isinstance(content, list) or not content:
        errors.append(
            (
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block.",
                "content",
                f"{_HELP}#message.content",
            )
        )
    else:
        kinds = [block.get("type") for block in content if isinstance(block, dict)]
        if "text/plain" in kinds and kinds.index("text/plain") != 0:
            errors.append(
                (
                    "If present, text/plain content must be first, followed by text/html, "
                    "followed by any other content.",
                    "content",
                    f"{_HELP}#message.content",
                )
            )
        for c, block in enumerate(content):
            if not isinstance(block, dict) or not block.get("value"):
                errors.append(
                    (
                        "The content value must be a string at least one character in length.",
                        f"content.{c}.value",
                        f"{_HELP}#message.content.value",
                    )
                )
    return errors


def add_routes(routes: web.RouteTableDef, prefix: str, state: AppState) -> None:
    """SendGrid's mail send, contacts and scopes endpoints below ``prefix``."""
    sent: dict[str, Any] = state.data.setdefault("sent", {})
    contacts: dict[str, dict[str, Any]] = state.data.setdefault("contacts", {})
    jobs: dict[str, list[dict[str, Any]]] = state.data.setdefault("jobs", {})

    def refused(request: web.Request) -> web.Response | None:
        if state.authorized(request):
            return None
        return sendgrid_errors(
            ("The provided authorization grant is invalid, expired, or revoked", None, None),
            status=401,
        )

    @routes.post(f"{prefix}/v3/mail/send")
    async def mail_send(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        if errors := _mail_errors(call.body):
            return sendgrid_errors(*errors)
        message_id = uuid.uuid4().hex[:22]
        sent[message_id] = call.body
        return web.Response(status=202, headers={"X-Message-Id": message_id})

    @routes.put(f"{prefix}/v3/marketing/contacts")
    async def upsert_contacts(request: web.Request) -> web.Response:
        call = await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        given = call.body.get("contacts") if isinstance(call.body, dict) else None
        if not isinstance(given, list) or not given:
            return sendgrid_errors(("contacts is required", "contacts", None))
        for index, contact in enumerate(given):
            if not _EMAIL.match(str((contact or {}).get("email", ""))):
                return sendgrid_errors(
                    ("email address is invalid", f"contacts[{index}].email", None)
                )
        list_ids = call.body.get("list_ids", [])
        job_id = str(uuid.uuid4())
        for contact in given:
            held = contacts.setdefault(
                contact["email"], {"email": contact["email"], "list_ids": []}
            )
            held.update({k: v for k, v in contact.items() if k != "email"})
            held["list_ids"] = sorted({*held["list_ids"], *list_ids})
        jobs[job_id] = given
        return web.json_response({"job_id": job_id}, status=202)

    @routes.get(f"{prefix}/v3/scopes")
    async def scopes(request: web.Request) -> web.Response:
        await state.record(request)
        if (answer := refused(request)) is not None:
            return answer
        return web.json_response({"scopes": SCOPES})
