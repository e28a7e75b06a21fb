"""SendGrid v3 actions (``https://api.sendgrid.com/v3``): JSON in, errors as ``{"errors":
[{"message", "field", "help"}]}``. Mail send answers 202 with an empty body, the message's id
only in its ``X-Message-Id`` header; contact upserts are queued jobs answered 202
``{"job_id"}``."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.connectors.base import Action, ActionContext, result_of
from shared.infra.outbound import OutboundResponse

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_LIST_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class Recipient(BaseModel):
    """An address, optionally with the name shown beside it."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(pattern=_EMAIL, max_length=320, description="Email address")
    name: str | None = Field(default=None, min_length=1, max_length=256, description="Name")


class EmailSend(BaseModel):
    """One email to up to 1000 recipients (each sees the whole To line)."""

    model_config = ConfigDict(extra="forbid")

    to: list[Recipient] = Field(min_length=1, max_length=1000, description="Recipients")
    from_email: str = Field(
        pattern=_EMAIL, max_length=320, description="Sender (a verified sender or domain)"
    )
    from_name: str | None = Field(default=None, min_length=1, max_length=256, description="Name")
    reply_to: str | None = Field(
        default=None, pattern=_EMAIL, max_length=320, description="Reply-To"
    )
    subject: str = Field(min_length=1, max_length=998, description="Subject")
    text: str | None = Field(default=None, min_length=1, description="Plain-text body")
    html: str | None = Field(default=None, min_length=1, description="HTML body")

    @model_validator(mode="after")
    def _has_a_body(self) -> Self:
        if self.text is None and self.html is None:
            raise ValueError("give a text or an html body (or both)")
        return self


class ContactAdd(BaseModel):
    """A marketing contact, added or updated by email (SendGrid applies it in a job)."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(pattern=_EMAIL, max_length=254, description="Email (identifies them)")
    first_name: str | None = Field(default=None, max_length=50, description="First name")
    last_name: str | None = Field(default=None, max_length=50, description="Last name")
    list_ids: list[Annotated[str, StringConstraints(pattern=_LIST_ID)]] = Field(
        default_factory=list, max_length=100, description="Lists to add them to (list ids, UUIDs)"
    )


def _header(response: OutboundResponse, name: str) -> str | None:
    return next((v for k, v in response.headers.items() if k.lower() == name.lower()), None)


async def send_email(ctx: ActionContext, data: EmailSend) -> dict[str, Any]:
    """Send an email."""
    sender: dict[str, str] = {"email": data.from_email}
    if data.from_name is not None:
        sender["name"] = data.from_name
    # SendGrid wants text/plain before text/html.
    content = [
        {"type": kind, "value": value}
        for kind, value in (("text/plain", data.text), ("text/html", data.html))
        if value is not None
    ]
    mail: dict[str, Any] = {
        "personalizations": [{"to": [r.model_dump(exclude_none=True) for r in data.to]}],
        "from": sender,
        "subject": data.subject,
        "content": content,
    }
    if data.reply_to is not None:
        mail["reply_to"] = {"email": data.reply_to}
    response = await ctx.call_api("POST", "/mail/send", json=mail)
    result_of(response)
    return {"accepted": True, "message_id": _header(response, "X-Message-Id")}


async def add_contact(ctx: ActionContext, data: ContactAdd) -> dict[str, Any]:
    """Add or update a marketing contact."""
    contact = data.model_dump(include={"email", "first_name", "last_name"}, exclude_none=True)
    body: dict[str, Any] = {"contacts": [contact]}
    if data.list_ids:
        body["list_ids"] = data.list_ids
    queued = result_of(await ctx.call_api("PUT", "/marketing/contacts", json=body))
    return {"job_id": queued["job_id"]}


ACTIONS = (
    Action("sendgrid.send_email", "sendgrid", EmailSend, send_email, "Send an email"),
    Action("sendgrid.add_contact", "sendgrid", ContactAdd, add_contact, "Add or update a contact"),
)
