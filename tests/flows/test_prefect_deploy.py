"""``prefect.yaml`` deploys to a real local Prefect server, with the schedules of the periodic flows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.net import free_port

REPO = Path(__file__).resolve().parents[2]
PREFECT = Path(sys.executable).parent / "prefect"



def _run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([str(PREFECT), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"prefect {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _post(url: str, body: dict[str, object]) -> object:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.skipif(not PREFECT.exists(), reason="the prefect console script is not installed in this environment")
def test_prefect_yaml_deploys_with_schedules(tmp_path: Path) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": api, "DUBAN_HOME": str(REPO), "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240  # it migrates a new database first: minutes on a loaded machine
        while True:
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"the Prefect server did not start (exit status: {server.poll()})")
                time.sleep(0.5)
        _run(["work-pool", "create", "duban", "--type", "process"], env)
        _run(["--no-prompt", "deploy", "--all"], env)
        deployments = _post(f"{api}/deployments/filter", {})
        assert isinstance(deployments, list)
        by_name = {d["name"]: d for d in deployments}
        assert set(by_name) >= {"launch-campaign", "launch-for-townships", "tick", "deliver-notifications"}
        for name in ("tick", "deliver-notifications"):
            schedules = by_name[name]["schedules"]
            assert [s["schedule"]["cron"] for s in schedules] == ["* * * * *"]
            assert schedules[0]["schedule"]["timezone"] == "Asia/Shanghai"
            assert by_name[name]["work_pool_name"] == "duban"
        assert by_name["launch-campaign"]["schedules"] == []
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
