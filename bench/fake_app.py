"""A third-party app on loopback for workflow steps to call: it answers at once and
records when each call arrived, keyed by the ``seq`` the step sends."""

from __future__ import annotations

import time

import click
import orjson
from aiohttp import web

ARRIVALS = web.AppKey("arrivals", dict[int, float])
CALLS = web.AppKey("calls", list[int])
WEBHOOK_IDS = web.AppKey("webhook_ids", dict[str, set[str]])


async def hook(request: web.Request) -> web.Response:
    """Record the call; answer like an app that created something."""
    now = time.time()
    body = orjson.loads(await request.read())
    request.app[CALLS][0] += 1
    request.app[ARRIVALS].setdefault(int(body["seq"]), now)  # a repeated call keeps the first
    return web.Response(body=b'{"id":"ok"}', content_type="application/json")


async def webhook(request: web.Request) -> web.Response:
    """A client's webhook receiver: count the call and the distinct ``webhook-id``s per path."""
    await request.read()
    request.app[CALLS][0] += 1
    ids = request.app[WEBHOOK_IDS].setdefault(request.match_info["name"], set())
    ids.add(request.headers.get("webhook-id", ""))
    return web.Response(status=204)


async def stats(request: web.Request) -> web.Response:
    """Calls received, and (``?arrivals=1``) when each ``seq`` first arrived."""
    arrivals = request.app[ARRIVALS]
    body: dict[str, object] = {
        "calls": request.app[CALLS][0],
        "distinct": len(arrivals),
        "webhooks": {name: len(ids) for name, ids in request.app[WEBHOOK_IDS].items()},
    }
    if request.query.get("arrivals"):
        body["arrivals"] = arrivals
    return web.Response(
        body=orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), content_type="application/json"
    )


async def reset(request: web.Request) -> web.Response:
    """Forget every call."""
    request.app[ARRIVALS].clear()
    request.app[WEBHOOK_IDS].clear()
    request.app[CALLS][0] = 0
    return web.Response(status=204)


async def ready(_: web.Request) -> web.Response:
    return web.Response(body=b"{}", content_type="application/json")


@click.command()
@click.option("--port", type=int, required=True)
def main(port: int) -> None:
    """Serve the fake app on 127.0.0.1:PORT."""
    app = web.Application()
    app[ARRIVALS] = {}
    app[CALLS] = [0]
    app[WEBHOOK_IDS] = {}
    app.router.add_post("/hook", hook)
    app.router.add_post("/webhooks/{name}", webhook)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    app.router.add_get("/readyz", ready)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
