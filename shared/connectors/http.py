"""``http.request``: the generic action, for any URL the workflow names (always guarded)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.base import Action, ActionContext, bearer_headers, result_of


class HttpRequestInput(BaseModel):
    """An HTTP call; ``auth: connection`` adds the connection's bearer token."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(max_length=4096)
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    auth: Literal["connection", "none"] = "connection"


async def _request(ctx: ActionContext, data: HttpRequestInput) -> Any:
    headers = {
        **(
            bearer_headers(ctx)
            if data.auth == "connection"
            else {"Idempotency-Key": ctx.idempotency_key}
        )
    }
    headers.update(data.headers)
    # Redirects are followed, each hop checked; the connection's token never crosses origins.
    response = await ctx.client.request(
        data.method, data.url, headers=headers, json=data.json_body, follow_redirects=True
    )
    return {"status": response.status, "body": result_of(response)}


HTTP_REQUEST = Action(
    "http.request", None, HttpRequestInput, _request, "Call any HTTP URL (guarded)"
)
