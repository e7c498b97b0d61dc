"""The zero-setup PostgreSQL (app.embedded_postgres): processes share one server per data
directory, the last one to exit stops it, and a crash neither keeps it up nor blocks a start."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
# A process that uses the server of argv[1] and holds it until its stdin closes.
USER = """
import sys
from pathlib import Path
import sqlalchemy as sa
from app.embedded_postgres import start_or_join
url = start_or_join(Path(sys.argv[1]))
with sa.create_engine(url).connect() as conn:
    started = conn.execute(sa.text("SELECT pg_postmaster_start_time()")).scalar()
print(url, started.isoformat(), sep="|", flush=True)
sys.stdin.read()
"""


def _user(data: Path) -> tuple[subprocess.Popen, str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", USER, str(data)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    url, started = proc.stdout.readline().strip().split("|")
    return proc, url, started


def _leave(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0


def _running(data: Path) -> bool:
    deadline = time.monotonic() + 10
    while (data / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return (data / "postmaster.pid").exists()


def test_processes_share_one_server_and_the_last_stops_it(tmp_path):
    data = tmp_path / "pg"
    first, url, started = _user(data)
    second, url_2, started_2 = _user(data)
    crashed, _, started_3 = _user(data)
    assert url_2 == url and started_2 == started_3 == started  # joined, not started again
    crashed.kill()  # dies without saying so
    crashed.wait()
    _leave(first)
    with sa.create_engine(url).connect() as conn:  # still up for the second
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    _leave(second)
    assert not _running(data), "the last user left and the server still runs"
    # The data stay: the next start finds the database.
    third, url_3, _ = _user(data)
    assert url_3 == url
    _leave(third)


def test_a_stale_pid_file_does_not_block_the_next_start(tmp_path):
    data = tmp_path / "pg"
    _leave(_user(data)[0])
    # A crash left postmaster.pid behind, and its PID now belongs to another program.
    other = subprocess.Popen(["sleep", "60"])
    try:
        lines = [str(other.pid), str(data), "1700000000", "5432", str(data), "", "1 2", "ready"]
        (data / "postmaster.pid").write_text("\n".join(lines) + "\n")
        proc, url, _ = _user(data)
        with sa.create_engine(url).connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        _leave(proc)
    finally:
        other.kill()
        other.wait()
