"""Wearables apps (Oura, Fitbit, Withings, WHOOP, Strava, Polar, Dexcom): each action calls
its provider's documented endpoint with the connection's bearer token and returns the useful
part of the answer; provider errors become the ActionError kinds workflows retry on. Every
provider is a local fake speaking its documented protocol (tests/fakes/apps)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.connectors import ACTIONS, actions_of
from shared.connectors.catalog import load_catalog
from shared.infra.outbound import OutboundClient
from tests.app_fixtures import (
    Connect,
    action_failure,
    connector,
    input_rejection,
    only_call,
    refused_failure,
    run_action,
    start_app_apis,
)
from tests.fakes.apps import AppApis
from tests.fakes.server import StartFake

SLUGS = ["oura", "fitbit", "withings", "whoop", "strava", "polar", "dexcom"]
TOKEN = "wearables-access-token"


@pytest.fixture
async def apis(start_fake: StartFake) -> AppApis:
    """Every wearables API, accepting TOKEN."""
    return await start_app_apis(start_fake, slugs=SLUGS, credentials=[TOKEN])


@pytest.fixture
def connect(apis: AppApis, loopback_allowed: OutboundClient) -> Connect:
    """Connections to the wearables fakes, holding TOKEN."""
    return connector(apis=apis, client=loopback_allowed, token=TOKEN)


def test_every_wearables_app_has_its_actions() -> None:
    names = {slug: [a.name for a in actions_of(slug)] for slug in SLUGS}
    assert names == {
        "oura": ["oura.daily_activity", "oura.daily_sleep", "oura.heart_rate"],
        "fitbit": ["fitbit.activity_summary", "fitbit.heart_rate", "fitbit.sleep_log"],
        "withings": ["withings.activity", "withings.measures", "withings.sleep_summary"],
        "whoop": ["whoop.cycles", "whoop.recovery", "whoop.sleep"],
        "strava": ["strava.athlete_stats", "strava.get_activity", "strava.list_activities"],
        "polar": ["polar.list_exercises", "polar.register_user", "polar.sleep"],
        "dexcom": ["dexcom.data_range", "dexcom.egvs", "dexcom.events"],
    }
    catalog = load_catalog()
    for slug in SLUGS:
        app = catalog.get(slug)
        assert app is not None
        assert app.oauth is not None
        assert app.docs_url
        assert app.default_enabled == []


# --- Oura -------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["daily_sleep", "daily_activity"])
async def test_oura_daily_collections_read_a_range_of_days(
    apis: AppApis, connect: Connect, verb: str
) -> None:
    ctx = connect("oura")
    out = await run_action(
        f"oura.{verb}", ctx=ctx, given={"start_date": "2026-11-20", "end_date": "2026-11-22"}
    )

    call = only_call(apis.apps["oura"], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", f"/v2/usercollection/{verb}")
    assert call.query == {"start_date": "2026-11-20", "end_date": "2026-11-22"}
    assert [d["day"] for d in out["data"]] == ["2026-11-20", "2026-11-21", "2026-11-22"]
    assert out["next_token"] is None


async def test_oura_heart_rate_reads_a_time_window(apis: AppApis, connect: Connect) -> None:
    ctx = connect("oura")
    out = await run_action(
        "oura.heart_rate",
        ctx=ctx,
        given={
            "start_datetime": "2026-11-25T08:00:00+00:00",
            "end_datetime": "2026-11-25T09:00:00+00:00",
        },
    )

    call = only_call(apis.apps["oura"], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", "/v2/usercollection/heartrate")
    assert call.query == {
        "start_datetime": "2026-11-25T08:00:00+00:00",
        "end_datetime": "2026-11-25T09:00:00+00:00",
    }
    assert [s["bpm"] for s in out["data"]] == [58, 59, 60]
    assert out["next_token"] is None


async def test_oura_errors_map_to_action_errors(connect: Connect) -> None:
    too_long = await action_failure(
        "oura.heart_rate",
        ctx=connect("oura"),
        given={"start_datetime": "2026-09-01T00:00:00Z", "end_datetime": "2026-11-01T00:00:00Z"},
    )
    assert (too_long.kind, too_long.status) == ("fatal", 400)
    assert "Date range can be at most 30 days" in str(too_long)


# --- Fitbit -----------------------------------------------------------------------------


async def test_fitbit_activity_summary_reads_a_day(apis: AppApis, connect: Connect) -> None:
    out = await run_action(
        "fitbit.activity_summary",
        ctx=connect("fitbit"),
        given={"date": "2026-11-25"},
    )

    call = only_call(apis.apps["fitbit"], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", "/1/user/-/activities/date/2026-11-25.json")
    assert out["summary"]["steps"] == 8412
    assert out["goals"]["steps"] == 10000


async def test_fitbit_sleep_log_reads_a_night(apis: AppApis, connect: Connect) -> None:
    out = await run_action(
        "fitbit.sleep_log",
        ctx=connect("fitbit"),
        given={"date": "2026-11-25"},
    )

    call = only_call(apis.apps["fitbit"], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", "/1.2/user/-/sleep/date/2026-11-25.json")
    [night] = out["sleep"]
    assert (night["dateOfSleep"], night["isMainSleep"]) == ("2026-11-25", True)
    assert out["summary"]["totalMinutesAsleep"] == 420


async def test_fitbit_heart_rate_reads_a_period(apis: AppApis, connect: Connect) -> None:
    out = await run_action(
        "fitbit.heart_rate",
        ctx=connect("fitbit"),
        given={"date": "2026-11-25", "period": "7d"},
    )

    call = only_call(apis.apps["fitbit"], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", "/1/user/-/activities/heart/date/2026-11-25/7d.json")
    [day] = out["days"]
    assert (day["dateTime"], day["value"]["restingHeartRate"]) == ("2026-11-25", 61)


async def test_fitbit_errors_map_to_action_errors(apis: AppApis, connect: Connect) -> None:
    apis.apps["fitbit"].data["retry_after"] = 37
    limited = await action_failure(
        "fitbit.activity_summary",
        ctx=connect("fitbit"),
        given={"date": "2026-11-25"},
    )
    assert (limited.kind, limited.status) == ("retryable", 429)
    assert limited.retry_after == 37.0


# --- Withings ---------------------------------------------------------------------------


async def test_withings_measures_posts_getmeas(apis: AppApis, connect: Connect) -> None:
    out = await run_action(
        "withings.measures",
        ctx=connect("withings"),
        given={
            "meastypes": [1, 76],
            "startdate": "2026-11-01T00:00:00Z",
            "enddate": "2026-11-26T00:00:00Z",
        },
    )

    call = only_call(apis.apps["withings"], bearer=TOKEN)
    assert (call.method, call.path) == ("POST", "/measure")
    start = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
    end = int(datetime(2026, 11, 26, tzinfo=UTC).timestamp())
    assert call.body == {
        "action": "getmeas",
        "meastypes": "1,76",
        "category": "1",
        "startdate": str(start),
        "enddate": str(end),
    }
    [group] = out["measuregrps"]
    assert [(m["type"], m["unit"]) for m in group["measures"]] == [(1, -3), (76, -3)]
    assert out["more"] == 0


async def test_withings_activity_posts_getactivity(apis: AppApis, connect: Connect) -> None:
    out = await run_action(
        "withings.activity",
        ctx=connect("withings"),
        given={
            "startdateymd": "2026-11-24",
            "enddateymd": "2026-11-25",
            "data_fields": ["steps", "calories"],
        },
    )

    call = only_call(apis.apps["withings"], bearer=TOKEN)
    assert (call.method, call.path) == ("POST", "/v2/measure")
    assert call.body == {
        "action": "getactivity",
        "startdateymd": "2026-11-24",
        "enddateymd": "2026-11-25",
        "data_fields": "steps,calories",
    }
    assert [a["date"] for a in out["activities"]] == ["2026-11-24", "2026-11-25"]


async def test_withings_sleep_summary_posts_getsummary(apis: AppApis, connect: Connect) -> None:
    out = await run_action(
        "withings.sleep_summary",
        ctx=connect("withings"),
        given={"startdateymd": "2026-11-25", "enddateymd": "2026-11-25"},
    )

    call = only_call(apis.apps["withings"], bearer=TOKEN)
    assert (call.method, call.path) == ("POST", "/v2/sleep")
    assert call.body == {
        "action": "getsummary",
        "startdateymd": "2026-11-25",
        "enddateymd": "2026-11-25",
    }
    [night] = out["series"]
    assert night["data"]["sleep_score"] == 79


async def test_withings_status_codes_in_http_200_map_to_action_errors(
    apis: AppApis, connect: Connect
) -> None:
    window = {"startdateymd": "2026-11-25", "enddateymd": "2026-11-25"}
    invalid = await action_failure(
        "withings.measures",
        ctx=connect("withings"),
        given={
            "meastypes": [299],
            "startdate": "2026-11-01T00:00:00Z",
            "enddate": "2026-11-02T00:00:00Z",
        },
    )
    assert invalid.kind == "fatal"
    assert "status 503" in str(invalid)
    assert "unknown meastype 299" in str(invalid)

    apis.apps["withings"].data["rate_limited"] = True
    limited = await action_failure(
        "withings.sleep_summary",
        ctx=connect("withings"),
        given=window,
    )
    assert (limited.kind, limited.status) == ("retryable", 429)


# --- WHOOP ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "path"),
    [("recovery", "/v2/recovery"), ("sleep", "/v2/activity/sleep"), ("cycles", "/v2/cycle")],
)
async def test_whoop_collections_page_with_next_token(
    apis: AppApis, connect: Connect, verb: str, path: str
) -> None:
    apis.apps["whoop"].data["records"] = 3
    ctx = connect("whoop")
    window = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-26T00:00:00+00:00", "limit": 2}
    first = await run_action(f"whoop.{verb}", ctx=ctx, given=window)
    second = await run_action(
        f"whoop.{verb}", ctx=ctx, given={**window, "next_token": first["next_token"]}
    )

    calls = apis.apps["whoop"].calls
    assert [(c.method, c.path) for c in calls] == [("GET", f"/developer{path}")] * 2
    assert calls[0].query == {
        "limit": "2",
        "start": "2026-11-01T00:00:00+00:00",
        "end": "2026-11-26T00:00:00+00:00",
    }
    assert calls[1].query["nextToken"] == "2"
    assert all(c.headers["Authorization"] == f"Bearer {TOKEN}" for c in calls)
    assert (len(first["records"]), first["next_token"]) == (2, "2")
    assert (len(second["records"]), second["next_token"]) == (1, None)
    assert first["records"][0]["score_state"] == "SCORED"


# --- Strava -----------------------------------------------------------------------------


async def test_strava_list_activities_sends_epoch_bounds_and_paging(
    apis: AppApis, connect: Connect
) -> None:
    out = await run_action(
        "strava.list_activities",
        ctx=connect("strava"),
        given={"after": "2026-11-01T00:00:00Z", "before": "2026-11-26T00:00:00Z", "per_page": 50},
    )

    call = only_call(apis.apps["strava"], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", "/api/v3/athlete/activities")
    assert call.query == {
        "page": "1",
        "per_page": "50",
        "after": str(int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())),
        "before": str(int(datetime(2026, 11, 26, tzinfo=UTC).timestamp())),
    }
    assert [a["id"] for a in out["activities"]] == [154504250376, 154504250377]
    assert out["page"] == 1


async def test_strava_get_activity_returns_the_detailed_activity(
    apis: AppApis, connect: Connect
) -> None:
    out = await run_action(
        "strava.get_activity",
        ctx=connect("strava"),
        given={"activity_id": 154504250377},
    )

    call = only_call(apis.apps["strava"], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", "/api/v3/activities/154504250377")
    assert call.query == {"include_all_efforts": "false"}
    assert (out["id"], out["resource_state"], out["calories"]) == (154504250377, 3, 702.0)


async def test_strava_athlete_stats_looks_up_the_connected_athlete(
    apis: AppApis, connect: Connect
) -> None:
    apis.apps["strava"].data["athlete_id"] = 227615
    out = await run_action(
        "strava.athlete_stats",
        ctx=connect("strava"),
        given={},
    )

    calls = apis.apps["strava"].calls
    assert [(c.method, c.path) for c in calls] == [
        ("GET", "/api/v3/athlete"),
        ("GET", "/api/v3/athletes/227615/stats"),
    ]
    assert out["athlete_id"] == 227615
    assert out["recent_run_totals"]["count"] == 12


async def test_strava_errors_map_to_action_errors(connect: Connect) -> None:
    missing = await action_failure(
        "strava.get_activity",
        ctx=connect("strava"),
        given={"activity_id": 1},
    )
    assert (missing.kind, missing.status) == ("fatal", 404)
    assert "Record Not Found" in str(missing)


# --- Polar ------------------------------------------------------------------------------


async def test_polar_reads_need_the_user_registered_first(apis: AppApis, connect: Connect) -> None:
    ctx = connect("polar")
    unregistered = await action_failure("polar.list_exercises", ctx=ctx, given={})
    assert (unregistered.kind, unregistered.status) == ("fatal", 403)
    assert "not registered" in str(unregistered)

    registered = await run_action(
        "polar.register_user", ctx=ctx, given={"member_id": "acme-user-7"}
    )
    again = await run_action("polar.register_user", ctx=ctx, given={"member_id": "acme-user-7"})

    register = apis.apps["polar"].calls[1]
    assert (register.method, register.path) == ("POST", "/v3/users")
    assert register.body == {"member-id": "acme-user-7"}
    assert register.headers["Authorization"] == f"Bearer {TOKEN}"
    assert (registered["polar-user-id"], registered["member-id"]) == (10001, "acme-user-7")
    assert again == {"member-id": "acme-user-7", "already_registered": True}


async def test_polar_list_exercises(apis: AppApis, connect: Connect) -> None:
    apis.apps["polar"].data["registered"] = "acme-user-7"
    out = await run_action(
        "polar.list_exercises",
        ctx=connect("polar"),
        given={"zones": True},
    )

    call = only_call(apis.apps["polar"], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", "/v3/exercises")
    assert call.query == {"samples": "false", "zones": "true", "route": "false"}
    assert call.headers["Accept"] == "application/json"
    [exercise] = out["exercises"]
    assert (exercise["sport"], exercise["heart_rate"]["average"]) == ("RUNNING", 142)
    assert exercise["heart_rate_zones"][0]["index"] == 1


async def test_polar_sleep(apis: AppApis, connect: Connect) -> None:
    apis.apps["polar"].data["registered"] = "acme-user-7"
    out = await run_action(
        "polar.sleep",
        ctx=connect("polar"),
        given={},
    )

    call = only_call(apis.apps["polar"], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", "/v3/users/sleep")
    [night] = out["nights"]
    assert (night["date"], night["sleep_score"]) == ("2026-11-25", 82)


# --- Dexcom -----------------------------------------------------------------------------


@pytest.mark.parametrize(("verb", "record"), [("egvs", "egv"), ("events", "event")])
async def test_dexcom_records_in_a_window(
    apis: AppApis, connect: Connect, verb: str, record: str
) -> None:
    out = await run_action(
        f"dexcom.{verb}",
        ctx=connect("dexcom"),
        given={"start_date": "2026-11-25T08:00:00Z", "end_date": "2026-11-25T10:00:00+01:00"},
    )

    call = only_call(apis.apps["dexcom"], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", f"/v3/users/self/{verb}")
    # Dexcom takes UTC (systemTime) date-times written without an offset.
    assert call.query == {"startDate": "2026-11-25T08:00:00", "endDate": "2026-11-25T09:00:00"}
    assert out["user_id"] == "8f789c0f-2d3a-4a57-9d4d-2c0ef1b8d5c2"
    assert [r["recordId"] for r in out["records"]] == [f"{record}-{n}" for n in range(3)]


async def test_dexcom_data_range(apis: AppApis, connect: Connect) -> None:
    out = await run_action(
        "dexcom.data_range",
        ctx=connect("dexcom"),
        given={"last_sync_time": "2026-11-20T06:30:00Z"},
    )

    call = only_call(apis.apps["dexcom"], bearer=TOKEN)
    assert (call.method, call.path) == ("GET", "/v3/users/self/dataRange")
    assert call.query == {"lastSyncTime": "2026-11-20T06:30:00"}
    assert out["recordType"] == "dataRange"
    assert out["egvs"]["end"]["systemTime"] == "2026-11-26T08:00:00Z"


# --- Refused tokens ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "given"),
    [
        ("oura.daily_sleep", {}),
        ("fitbit.sleep_log", {"date": "2026-11-25"}),
        ("withings.activity", {"startdateymd": "2026-11-25", "enddateymd": "2026-11-25"}),
        ("whoop.recovery", {}),
        ("strava.list_activities", {}),
        ("polar.register_user", {"member_id": "m1"}),
        ("dexcom.data_range", {}),
    ],
)
async def test_a_refused_token_is_unauthorized(
    connect: Connect, name: str, given: dict[str, Any]
) -> None:
    await refused_failure(name, connect=connect, token="revoked-wearables-token", given=given)


# --- Input models -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "given", "says"),
    [
        ("oura.daily_sleep", {"start_date": "2026-11-22", "end_date": "2026-11-20"}, "end_date"),
        ("oura.daily_activity", {"start_date": "yesterday"}, "start_date"),
        (
            "oura.heart_rate",
            {"start_datetime": "2026-11-25T09:00:00Z", "end_datetime": "2026-11-25T08:00:00Z"},
            "end_datetime",
        ),
        ("fitbit.activity_summary", {}, "date"),
        ("fitbit.sleep_log", {"date": "2026-13-01"}, "date"),
        ("fitbit.heart_rate", {"date": "2026-11-25", "period": "2y"}, "period"),
        (
            "withings.measures",
            {
                "meastypes": [],
                "startdate": "2026-11-01T00:00:00Z",
                "enddate": "2026-11-02T00:00:00Z",
            },
            "meastypes",
        ),
        (
            "withings.activity",
            {"startdateymd": "2026-11-25", "enddateymd": "2026-11-24"},
            "enddateymd",
        ),
        (
            "withings.sleep_summary",
            {"startdateymd": "2026-11-25", "enddateymd": "2026-11-25", "fields": []},
            "fields",
        ),
        ("whoop.recovery", {"limit": 26}, "limit"),
        ("whoop.sleep", {"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "end"),
        ("whoop.cycles", {"limit": 0}, "limit"),
        ("strava.list_activities", {"per_page": 201}, "per_page"),
        ("strava.get_activity", {"activity_id": 0}, "activity_id"),
        ("strava.athlete_stats", {"athlete_id": "me"}, "athlete_id"),
        ("polar.register_user", {"member_id": "has space"}, "member_id"),
        ("polar.list_exercises", {"samples": "sometimes"}, "samples"),
        ("polar.sleep", {"date": "2026-11-25"}, "date"),
        (
            "dexcom.egvs",
            {"start_date": "2026-09-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},
            "30 days",
        ),
        ("dexcom.events", {"start_date": "2026-11-01T00:00:00Z"}, "end_date"),
        ("dexcom.data_range", {"last_sync_time": "last week"}, "last_sync_time"),
    ],
)
def test_input_models_reject_bad_input_clearly(name: str, given: dict[str, Any], says: str) -> None:
    assert says in str(input_rejection(ACTIONS[name].input_model, given=given))
