"""The real app served by uvicorn on a free loopback port in a background thread, and the README's shell
walkthrough run against it with every HTTP status recorded."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.net import free_port

README = Path(__file__).resolve().parents[2] / "README.md"

# Every curl of the walkthrough goes through this function: its answer is printed as usual (so `$(…)` and
# pipes see the same text) and "<status> <url>" is appended to $STATUS_LOG.
_RECORDING_CURL = r"""
curl() {
  local url="" arg out
  for arg in "$@"; do case "$arg" in http*) url="$arg";; esac; done
  out=$(command curl "$@" -w $'\n%{http_code}')
  printf '%s %s\n' "${out##*$'\n'}" "${url#*/api/v1}" >> "$STATUS_LOG"
  printf '%s' "${out%$'\n'*}"
}
set -o pipefail
"""


@contextmanager
def serving() -> Iterator[str]:
    """The app (API, pages, launch flows) on a free port until the block ends; its base URL."""
    import uvicorn

    from api.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn-live", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def readme_blocks(section: str) -> list[str]:
    """The ```sh blocks of the README section headed ``## <section>``, in order."""
    text = README.read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", body, re.S)


@dataclass
class Walkthrough:
    output: str
    statuses: list[tuple[int, str]]
    """(HTTP status, path under /api/v1) of every curl, in order."""


def run_walkthrough(script: str, base_url: str, workdir: Path) -> Walkthrough:
    """Run ``script`` with bash, the README's address replaced by ``base_url``; fails on a bash error."""
    log = workdir / "statuses.log"
    log.write_text("")
    body = script.replace("http://127.0.0.1:8000", base_url)
    done = subprocess.run(["bash", "-c", _RECORDING_CURL + body], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "STATUS_LOG": str(log), "LANG": "C.UTF-8"}, check=False)
    assert done.returncode == 0, f"the walkthrough failed ({done.returncode}): {done.stderr}\n{done.stdout[-2000:]}"
    assert not done.stderr.strip(), done.stderr
    statuses = []
    for line in log.read_text().splitlines():
        code, _, path = line.partition(" ")
        statuses.append((int(code), path))
    return Walkthrough(done.stdout, statuses)
