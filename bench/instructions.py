"""Instructions per request, counted by valgrind's callgrind: a figure that does not move with
the machine's noise, for comparing a change's cost before and after.

Each server runs twice under callgrind: both runs first send every seeded body once (so
caches are warm), then ``--few`` or ``--many`` more requests. The difference of the two
totals over the difference of the counts is the user-space instructions one more request
costs; start-up and warm-up cancel out. Kernel time (system calls) is not counted.

    python -m bench.instructions            # link-token create: Linkport and the baseline
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import click
import orjson

from bench import seed as seeding
from bench.stack import Stack
from linkport.processes import LINKPORT, free_port, wait_ready

_CONCURRENCY = 8
_TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


async def _post(url: str, headers: dict[str, str], bodies: list[bytes], count: int) -> None:
    async with aiohttp.ClientSession(headers=headers) as http:

        async def sender(first: int) -> None:
            for n in range(first, count, _CONCURRENCY):
                async with http.post(url, data=bodies[n % len(bodies)]) as reply:
                    await reply.read()
                    if reply.status != 200:
                        raise RuntimeError(f"{url} answered {reply.status}")

        await asyncio.gather(*(sender(k) for k in range(_CONCURRENCY)))


@dataclass(frozen=True)
class _Load:
    """What every request of a run sends: one of the bodies, with these headers."""

    bodies: list[bytes]
    headers: dict[str, str]

    @classmethod
    def link_tokens(cls, seeded: seeding.Seeded) -> _Load:
        """Link-token creation for each seeded account, with the client secret headers."""
        return cls(
            [
                orjson.dumps({"user_id": seeding.account(n), "org_id": seeding.ORG})
                for n in range(seeded.accounts)
            ],
            {
                "client_id": seeded.client_id,
                "client_secret": seeded.client_secret,
                "Content-Type": "application/json",
            },
        )


def _under_callgrind(command: list[str], env: dict[str, str], out: Path) -> subprocess.Popen[bytes]:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("needs valgrind: apt-get install valgrind")
    return subprocess.Popen(  # noqa: S603
        [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _instructions_in(out: Path) -> int:
    found = _TOTALS.search(out.read_text(errors="replace"))
    if found is None:
        raise RuntimeError(f"no totals in {out}")
    return int(found.group(1))


async def _total(
    command: list[str], env: dict[str, str], url: str, load: _Load, requests: int, out: Path
) -> int:
    """Instructions a server executes from start to stop, serving warm-up plus ``requests``."""
    process = _under_callgrind(command, env, out)
    try:
        origin = url[: url.index("/", len("http://"))]
        await asyncio.to_thread(wait_ready, origin, process, timeout=300)
        await _post(url, load.headers, load.bodies, len(load.bodies))  # warm: every account once
        await _post(url, load.headers, load.bodies, requests)
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 300)
    return _instructions_in(out)


async def _per_request(stack: Stack, load: _Load, target: str, few: int, many: int) -> float:
    totals = []
    for count in (few, many):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = stack.linkport_env(base)
        # Long cache lifetimes: valgrind slows everything fifty-fold, and a cache entry
        # expiring mid-run would be counted as the cost of a request.
        env["LINKPORT_AUTH_CACHE_TTL"] = "3600"
        if target == "linkport":
            command = [*LINKPORT, "serve", "--port", str(port)]
            url = base + "/link/token/create"
        else:
            command = stack.baseline_command(port)
            url = base + "/token"
        out = stack.out / f"callgrind-{target}-{count}.out"
        totals.append(await _total(command, env, url, load, count, out))
    return (totals[1] - totals[0]) / (many - few)


async def _measure(out: Path, few: int, many: int) -> dict[str, float]:
    stack = Stack(out)
    await stack.open()
    try:
        seeded = await seeding.seed(
            stack.settings(), accounts=1000, fake_app_url=stack.fake_app_url
        )
        load = _Load.link_tokens(seeded)
        return {
            target: await _per_request(stack, load, target, few, many)
            for target in ("baseline", "linkport")
        }
    finally:
        await stack.close()


@click.command()
@click.option("--few", type=int, default=200, show_default=True)
@click.option("--many", type=int, default=1000, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench/out-instructions"))
def main(few: int, many: int, out: Path) -> None:
    """Link-token create: instructions per request, Linkport beside the baseline."""
    counts = asyncio.run(_measure(out, few, many))
    base = counts["baseline"]
    for target, count in counts.items():
        click.echo(
            f"{target:9s} {count / 1000:7.1f} k instructions per request  ({count / base:.2f}x)"
        )


if __name__ == "__main__":
    main()
