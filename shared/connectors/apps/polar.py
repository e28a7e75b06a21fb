"""Polar AccessLink actions (https://www.polar.com/accesslink-api/): registering the user
(required once before any data read), exercises, and sleep."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.base import Action, ActionContext, ActionError, result_of

_JSON = {"Accept": "application/json"}


class RegisterUserInput(BaseModel):
    """Your own id for the user (Polar's member-id), unique within your AccessLink client."""

    model_config = ConfigDict(extra="forbid")

    member_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.\-]+$",
        description="Partner's identifier for the user (letters, digits, _ . -).",
    )


class ListExercisesInput(BaseModel):
    """Exercises of the last 30 days, with optional detail."""

    model_config = ConfigDict(extra="forbid")

    samples: bool = Field(default=False, description="Include heart rate, speed… samples.")
    zones: bool = Field(default=False, description="Include heart rate zones.")
    route: bool = Field(default=False, description="Include the GPS route.")


class SleepInput(BaseModel):
    """No input: the sleep of the last 28 nights."""

    model_config = ConfigDict(extra="forbid")


async def _register_user(ctx: ActionContext, data: RegisterUserInput) -> Any:
    response = await ctx.call_api(
        "POST", "/users", json={"member-id": data.member_id}, headers=_JSON
    )
    if response.status == 409:
        # Registering twice is refused with 409: the user is registered, which is the goal
        # (a workflow step may run twice).
        return {"member-id": data.member_id, "already_registered": True}
    return result_of(response)


async def _list_exercises(ctx: ActionContext, data: ListExercisesInput) -> dict[str, Any]:
    params = {
        "samples": str(data.samples).lower(),
        "zones": str(data.zones).lower(),
        "route": str(data.route).lower(),
    }
    response = await ctx.call_api("GET", "/exercises", params=params, headers=_JSON)
    body = result_of(response)
    if response.status == 204 or body is None:
        return {"exercises": []}
    if not isinstance(body, list):
        raise ActionError("fatal", "Polar's exercises answer is not a list")
    return {"exercises": body}


async def _sleep(ctx: ActionContext, _: SleepInput) -> dict[str, Any]:
    body = result_of(await ctx.call_api("GET", "/users/sleep", headers=_JSON))
    return {"nights": (body or {}).get("nights", [])}


ACTIONS = (
    Action(
        "polar.register_user",
        "polar",
        RegisterUserInput,
        _register_user,
        "Register the connected user with your AccessLink client (needed before reading data)",
    ),
    Action(
        "polar.list_exercises",
        "polar",
        ListExercisesInput,
        _list_exercises,
        "Training sessions of the last 30 days (sport, duration, heart rate, calories)",
    ),
    Action(
        "polar.sleep",
        "polar",
        SleepInput,
        _sleep,
        "Sleep of the last 28 nights (stages, sleep score, interruptions)",
    ),
)
