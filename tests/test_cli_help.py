"""`flask … --help` works with an empty environment; a command that needs the app still refuses
to run without the production settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLASK = str(Path(sys.executable).parent / "flask")


def _flask(*args: str) -> subprocess.CompletedProcess:
    # No environment at all: no SECRET_KEY, no SANDBOX, no DATABASE_URL, not even TESTING.
    return subprocess.run(
        [FLASK, "--app", "wsgi", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "shows"),
    [
        (("--help",), "jobs"),
        (("db", "--help"), "upgrade"),
        (("jobs", "--help"), "run-once"),
        (("jobs", "run", "--help"), "Usage: flask jobs run"),
        (("sandbox", "run", "--help"), "--no-scheduler"),
    ],
)
def test_help_needs_no_environment(args, shows):
    done = _flask(*args)
    assert done.returncode == 0, done.stderr
    assert shows in done.stdout
    assert "Traceback" not in done.stderr + done.stdout


def test_a_command_still_refuses_without_production_settings():
    done = _flask("jobs", "run-once", "points_expiry")
    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr


def test_serving_still_refuses_without_production_settings():
    done = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr
