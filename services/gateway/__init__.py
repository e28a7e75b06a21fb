"""The gateway: Linkport's HTTP API, hosted pages and OAuth callbacks (aiohttp)."""
