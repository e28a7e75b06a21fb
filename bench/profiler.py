"""Sampling a process under load with py-spy, and the top functions of what it saw."""

from __future__ import annotations

import collections
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]+)(?::\d+)?\)$")


class Profile:
    """py-spy recording one process until ``stop()``; its summary goes beside the raw stacks."""

    def __init__(self, pid: int, out: Path) -> None:
        beside_python = Path(sys.executable).with_name("py-spy")
        spy = str(beside_python) if beside_python.exists() else shutil.which("py-spy")
        if spy is None:
            raise SystemExit("--profile needs py-spy: pip install -e '.[bench]'")
        self._out = out
        self._process = subprocess.Popen(  # noqa: S603
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--rate",
                "200",
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(out.with_suffix(".raw")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        """End the recording (py-spy writes its file on SIGINT) and write the summary."""
        self._process.send_signal(signal.SIGINT)
        self._process.wait(timeout=30)
        raw = self._out.with_suffix(".raw")
        if raw.exists():
            self._out.write_text(summarize(raw.read_text()))


def _name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['function']} ({path})"


def summarize(raw: str, top: int = 25) -> str:
    """Top functions by own time and by inclusive time, as percentages of all samples."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        return "no samples\n"

    def block(title: str, counter: collections.Counter[str]) -> list[str]:
        rows = [f"{title} ({total} samples)"]
        rows += [f"{100 * n / total:5.1f}%  {name}" for name, n in counter.most_common(top)]
        return rows

    return "\n".join([*block("own time", own), "", *block("inclusive time", inclusive)]) + "\n"
