"""End-to-end fixtures: Debian's Chromium (installed with apt when missing, never downloaded by
Playwright) and the real app served by uvicorn on a free loopback port, against a fresh SQLite
database with the demo county, on the tests' virtual clock."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from core.clock import FakeClock
from tests.support.live import serving

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


CJK_FONT = "fonts-wqy-microhei"  # without a CJK font the screenshots show boxes instead of Chinese


def _has_cjk_font() -> bool:
    found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False) if shutil.which("fc-list") else None
    return bool(found and found.stdout.strip())


def _apt_install(*packages: str) -> str | None:
    """Install Debian packages; the reason it failed, or None."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available"
    command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    if first.returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, text=True, env=env, timeout=600, check=False)
        second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
        if second.returncode != 0:
            return (second.stderr or second.stdout).strip()[-500:]
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's Chromium, installed when missing; the e2e tests skip if that is impossible."""
    if not Path(CHROMIUM).exists():
        problem = _apt_install("chromium")
        if problem or not Path(CHROMIUM).exists():
            pytest.skip(f"Chromium is not installed at {CHROMIUM} and `apt-get install chromium` failed: {problem}")
    if not _has_cjk_font():
        _apt_install(CJK_FONT)  # legible screenshots only; the test does not depend on it
    return CHROMIUM


@pytest.fixture
def backend() -> str:
    """The browser test runs on SQLite only (the page logic is covered on PostgreSQL by tests/api)."""
    return "sqlite"



@pytest.fixture
def live_server(demo_county: Engine, clock: FakeClock) -> Iterator[str]:
    """The real app (API, pages, launch flows) served by uvicorn in a background thread; its base URL."""
    with serving() as url:
        yield url


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
