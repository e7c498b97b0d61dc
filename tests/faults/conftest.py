"""Fault injection: stop and start the PostgreSQL cluster and the Redis server the suite uses,
with a production-like gunicorn and scheduler running against them.

The cluster and server are found from TEST_PG_URL and TEST_REDIS_URL (their ports), so a
developer can point the suite at private instances while other work uses the shared ones. Every
stop is undone in a `finally`, and an autouse fixture checks after each test that both answer,
starting them again if not: these tests never leave PostgreSQL or Redis down.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
IN_CI = bool(os.environ.get("CI"))


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"fault tests cannot run in CI: {reason}")
    pytest.skip(reason)


@dataclass
class PostgresCluster:
    version: str
    name: str
    port: int

    def _ctl(self, action: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def is_up(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
            return (
                subprocess.run(
                    ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)], timeout=10
                ).returncode
                == 0
            )
        return False

    def stop(self) -> None:
        self._ctl("stop")

    def start(self) -> None:
        if not self.is_up():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._ctl("start")
        _wait(self.is_up, 30, "PostgreSQL did not come back")


@dataclass
class RedisServer:
    port: int
    directory: str
    logfile: str

    def _cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=10,
        )

    def is_up(self) -> bool:
        return self._cli("ping").stdout.strip() == "PONG"

    def stop(self) -> None:
        self._cli("shutdown", "nosave")
        _wait(lambda: not self.is_up(), 10, "Redis did not stop")

    def start(self) -> None:
        if not self.is_up():
            # The way .ci/run starts it: no persistence, loopback only.
            subprocess.run(
                [
                    "redis-server",
                    "--daemonize",
                    "yes",
                    "--bind",
                    "127.0.0.1",
                    "-::1",
                    "--port",
                    str(self.port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    self.directory,
                    "--logfile",
                    self.logfile,
                ],
                check=True,
                capture_output=True,
                timeout=30,
            )
        _wait(self.is_up, 30, "Redis did not come back")


def _wait(predicate, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(message)


@pytest.fixture(scope="session")
def postgres_cluster(database_url) -> PostgresCluster:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (TEST_DB=postgres)")
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        _unavailable("pg_ctlcluster is not available: cannot restart PostgreSQL")
    if os.geteuid() != 0:
        _unavailable("restarting PostgreSQL with pg_ctlcluster needs root")
    port = urlparse(database_url.replace("+psycopg", "")).port or 5432
    listing = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True)
    for line in listing.stdout.splitlines():
        version, name, cluster_port, *_ = line.split()
        if int(cluster_port) == port:
            return PostgresCluster(version, name, port)
    _unavailable(f"no local PostgreSQL cluster listens on port {port}")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def redis_server(app) -> RedisServer:
    url = urlparse(app.config["REDIS_URL"])
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        _unavailable("Redis is not local: cannot restart it")
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        _unavailable("redis-server/redis-cli are not available: cannot restart Redis")
    server = RedisServer(url.port or 6379, "/var/lib/redis", "/var/log/redis/ci.log")
    # Restart it the way it runs now: same directory and log file.
    for key in ("dir", "logfile"):
        reply = server._cli("config", "get", key).stdout.split("\n")
        if len(reply) >= 2 and reply[1].strip():
            setattr(server, "directory" if key == "dir" else "logfile", reply[1].strip())
    return server


@pytest.fixture(autouse=True)
def _services_back_up(request) -> Iterator[None]:
    yield
    # Whatever happened in the test, both services answer before the next one starts.
    for name in ("postgres_cluster", "redis_server"):
        if name in request.fixturenames:
            request.getfixturevalue(name).start()
    # The test's session may hold a connection the restart killed; drop it before the suite's
    # clean-up uses the session.
    from app.extensions import db

    with contextlib.suppress(Exception):
        db.session.rollback()
    with contextlib.suppress(Exception):
        db.session.close()


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
            "WECHAT_API_BASE": "http://127.0.0.1:9",  # nothing listens: no WeChat in these tests
            "LOG_PLAIN": "1",
            "DB_POOL_SIZE": "4",
            "DB_MAX_OVERFLOW": "4",
            # Retries after an outage may take over a claim left pending by a failed request.
            "IDEMPOTENCY_STALE_SECONDS": "3",
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
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        _stop(proc)


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
