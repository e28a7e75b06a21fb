"""The README's promises: its shell examples run as printed, its settings table is complete."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import Settings
from tests.processes import start, stop

README = Path(__file__).parents[2] / "README.md"

pytestmark = pytest.mark.e2e


def shell_examples() -> list[str]:
    """Every ```sh block of the README, in order."""
    return re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_shell_examples_run_as_printed(
    gateway: tuple[str, dict[str, str], Path],
    tmp_path: Path,
) -> None:
    base_url, env, _ = gateway
    created = subprocess.run(
        [sys.executable, "-m", "linkport", "clients", "create", "--name", "Readme"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    credentials = json.loads(created.stdout)
    # What `linkport dev` writes to .linkport/dev.env.
    (tmp_path / ".linkport").mkdir()
    (tmp_path / ".linkport" / "dev.env").write_text(
        f"export LINKPORT_URL={base_url}\n"
        f"export CLIENT_ID={credentials['client_id']}\n"
        f"export CLIENT_SECRET={credentials['client_secret']}\n"
        f"export API_KEY={credentials['api_key']}\n"
    )
    worker = start("worker", env=env, log=tmp_path / "worker.log")  # the events example needs one
    blocks = shell_examples()
    assert len(blocks) >= 6
    script = "set -euo pipefail\n" + "\n".join(blocks)
    try:
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    finally:
        assert stop(worker) == 0
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert '"success":true,"token":"lt_' in result.stdout
    assert '"link_token":"lt_' in result.stdout
    assert '"code":"validation_failed"' in result.stdout
    assert '"step_id":"create","status":"succeeded"' in result.stdout
    assert '"source":"newsletter"' in result.stdout
    assert '"message":"Webhook Fired Success"' in result.stdout  # the gocobalt face
    assert "gocobalt execution: COMPLETED" in result.stdout
    assert '"success":true,"token":"at_' in result.stdout  # the EMR GET exchange


def test_every_setting_is_documented() -> None:
    text = README.read_text()
    for name in Settings.model_fields:
        assert f"LINKPORT_{name.upper()}" in text, name
