"""End to end: Linkport as separate processes (``linkport serve``, the worker, the CLI,
``linkport dev``) and a real browser. Every test here is marked ``e2e``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.helpers import TEST_ENCRYPTION_KEY, TEST_QUEUE
from tests.processes import free_port, linkport_env, start, stop, wait_ready

CHROMIUM = os.environ.get("LINKPORT_TEST_CHROMIUM", "/usr/bin/chromium")
# What the machine's Chromium needs headless, as root, with no network beyond loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """Headless Chromium from the machine (Playwright never downloads a browser here)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


@pytest.fixture(autouse=True)
async def _clean(clean_state: None) -> None:
    """Every test starts with empty tables and an empty Redis db."""


@pytest.fixture
def gateway(
    database_url: str, redis_url: str, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str], Path]]:
    """``linkport serve`` on a free port: (base URL, environment, log file)."""
    port = free_port()
    env = linkport_env(
        LINKPORT_DATABASE_URL=database_url,
        LINKPORT_REDIS_URL=redis_url,
        LINKPORT_PORT=str(port),
        LINKPORT_LOG_LEVEL="INFO",
        LINKPORT_ENCRYPTION_KEY=TEST_ENCRYPTION_KEY,
        LINKPORT_QUEUE_NAME=TEST_QUEUE,
        LINKPORT_BASE_URL=f"http://127.0.0.1:{port}",
    )
    log = tmp_path / "gateway.log"
    process = start("serve", env=env, log=log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, process)
        yield base_url, env, log
    finally:
        assert stop(process) == 0, log.read_text()[-2000:]
