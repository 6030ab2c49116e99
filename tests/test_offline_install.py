"""The offline install: a fresh virtual environment gets duban and every dependency from the wheelhouse
(``make wheelhouse``) with the package index switched off, and its ``duban`` command runs.

Runs where ``DUBAN_WHEELHOUSE`` names a wheelhouse (CI builds one first); skipped elsewhere, since building one
needs the index.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WHEELHOUSE = os.environ.get("DUBAN_WHEELHOUSE", "")

pytestmark = pytest.mark.skipif(not WHEELHOUSE or not Path(WHEELHOUSE).is_dir(),
                                reason="set DUBAN_WHEELHOUSE to a directory written by `make wheelhouse`")


def test_a_fresh_venv_installs_from_the_wheelhouse_without_the_index(tmp_path: Path) -> None:
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env |= {"PIP_NO_INDEX": "1", "PIP_INDEX_URL": "http://127.0.0.1:9/simple",  # no index, and none reachable
            "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--find-links", WHEELHOUSE, str(REPO)],
                             env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    ran = subprocess.run([str(target / "bin" / "duban"), "--help"], env=env, capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert ran.returncode == 0 and "duban" in ran.stdout, ran.stderr[-2000:]
    versions = subprocess.run([str(python), "-c", "import sqlalchemy, prometheus_client; print(sqlalchemy.__version__)"],
                              env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert versions.returncode == 0 and versions.stdout.startswith("2."), versions.stderr
    assert sys.version_info >= (3, 11)
