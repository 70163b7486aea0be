"""A non-editable install serves the templates and static files packed into the wheel."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import httpx
import pytest

from tests.conftest import clean_env, running_server

ROOT = Path(__file__).parent.parent
pytestmark = pytest.mark.slow


def test_wheel_installed_into_a_fresh_venv_serves_pages(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("timebank-*.whl")
    # The venv sees the dependencies already installed here (no downloads), but timebank
    # itself only from the wheel: its own site-packages come first on sys.path.
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    where = subprocess.run(
        [python, "-c", "import timebank.templating as t; print(t.web_dir())"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert where.startswith(str(env_dir)), where

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    env = clean_env(TIMEBANK_DATA_DIR=str(run_dir / "var"))
    with running_server(
        [str(env_dir / "bin" / "timebank"), "serve", "--demo"], env=env, cwd=run_dir
    ) as base:
        page = httpx.get(f"{base}/")
        assert page.status_code == 200 and "时间银行" in page.text
        assert httpx.get(f"{base}/static/vendor/pico/pico.min.css").status_code == 200
        assert httpx.get(f"{base}/static/vendor/htmx/htmx.min.js").status_code == 200
        openapi = httpx.get(f"{base}/api/v1/openapi.json").json()
        assert openapi["openapi"].startswith("3.")
