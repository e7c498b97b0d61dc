"""Shared bench plumbing: a fresh PostgreSQL database, gunicorn on it, a load driver, a table.

Usage from a bench script (run as `.venv/bin/python bench/<name>.py`):

    from harness import fresh_database, gunicorn_server, drive, print_table
    with fresh_database() as db_url, gunicorn_server(db_url) as base:
        ...seed with app_for(db_url)...
        stats = drive(base, make_request, count=5000, concurrency=32)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
_JOB_PROCESS = contextlib.ExitStack()
VENV_BIN = ROOT / ".venv" / "bin"
# The server to make bench databases on, through its maintenance database `postgres` (never the
# `test` database): a URL, a socket URL as the embedded server's (`...@/postgres?host=/dir&port=N`),
# or `embedded` for an embedded PostgreSQL of the bench's own in a temporary directory.
PG_ADMIN_URL = os.environ.get(
    "BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET_KEY = "bench-secret-key-" + secrets.token_hex(8)

sys.path.insert(0, str(ROOT))

# What a production server has that the sandbox does not need (load_settings refuses without):
# gunicorn_server(..., **PRODUCTION_ENV) serves as production runs, without SANDBOX.
PRODUCTION_ENV = {
    "SANDBOX": "0",
    "WECHAT_MINIAPP_APPID": "wx_bench_miniapp",
    "WECHAT_MINIAPP_SECRET": "bench-miniapp-secret",
    "DATA_ENCRYPTION_KEY": "YmVuY2gta2V5LW5vdC1mb3ItcHJvZHVjdGlvbi0wMDA=",  # a Fernet key
}


_EMBEDDED: list = []  # the embedded server this process started, if any


def server_url() -> str:
    """The URL of the maintenance database of the server benches run on (BENCH_PG_URL)."""
    if PG_ADMIN_URL != "embedded":
        return PG_ADMIN_URL
    from app import embedded_postgres

    if not _EMBEDDED:
        import atexit
        import shutil
        import tempfile

        scratch = Path(tempfile.mkdtemp(prefix="hy-bench-pg-"))
        scratch.chmod(0o755)  # run as root, the server runs as a user of its own
        # atexit runs last-registered first: the server (stopped at exit) before its files.
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        _EMBEDDED.append(embedded_postgres.get_server(scratch / "data"))
    return embedded_postgres.url(_EMBEDDED[0], "postgres")


def database_url(name: str) -> str:
    """The URL of database `name` on the bench server: only the database changes, so a socket
    URL keeps its `?host=/dir&port=N` query (cutting the URL at its last "/" would not)."""
    url = sa.engine.make_url(server_url()).set(database=name)
    return url.render_as_string(hide_password=False)


def create_database(name: str, template: str | None = None) -> str:
    """Create database `name` on the bench server (a copy of `template` when given, which must
    have no connections); its URL."""
    admin = sa.create_engine(server_url(), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        copy = f' TEMPLATE "{template}"' if template else ""
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{copy}'))
    admin.dispose()
    return database_url(name)


def drop_database(name: str) -> None:
    admin = sa.create_engine(server_url(), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def new_database_name() -> str:
    return f"bench_{os.getpid()}_{secrets.token_hex(3)}"


@contextlib.contextmanager
def fresh_database(keep: bool = False, name: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database `name` (default `bench_<pid>_<random>`) on the bench server with
    the schema applied by the migrations; dropped afterwards."""
    name = name or new_database_name()
    url = create_database(name)
    try:
        env = _app_env(url, prefix="hyb-schema:")
        subprocess.run(
            [str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        yield url
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            drop_database(name)


def _app_env(db_url: str, prefix: str, **extra: str) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "SANDBOX": "1",
            "DATABASE_URL": db_url,
            "REDIS_URL": REDIS_URL,
            "REDIS_KEY_PREFIX": prefix,
            "SECRET_KEY": SECRET_KEY,
            "LOG_PLAIN": "1",
        }
    )
    env.update(extra)
    return env


def app_for(db_url: str, prefix: str, job_process: bool = True):
    """An in-process app on the bench database (for seeding and checks), same secret and prefix.
    With job_process, its connections have the job timeouts for the bench's whole life; without,
    the caller wraps what it runs in `app.db_timeouts.job_timeouts(app)` (inside an app context)."""
    os.environ.update(_app_env(db_url, prefix))
    from app import create_app
    from app.db_timeouts import job_timeouts

    app = create_app({"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 5}})
    if job_process:
        # Seeding millions of rows and the nightly refresh are jobs, for the bench's whole life.
        _JOB_PROCESS.enter_context(job_timeouts(app))
    return app


def insert_members(count: int, points_balance: int = 0) -> list[int]:
    """Insert bench members straight into the table (in the caller's app context); their ids."""
    from app.extensions import db
    from app.models import Member

    rows = [
        {
            "member_no": f"9{i:011d}",
            "openid": f"bench-{i}",
            "referral_code": f"B{i:07d}",
            "nickname": "",
            "avatar_url": "",
            "gender": 0,
            "tier_code": "",
            "points_balance": points_balance,
        }
        for i in range(count)
    ]
    db.session.execute(Member.__table__.insert(), rows)
    return [m.id for m in db.session.query(Member.id).order_by(Member.id)]


def seed_points(ids: list[int], points: int, now) -> None:
    """Give members inserted by insert_members(points_balance=points) the ledger rows behind that
    balance (one adjustment entry and one lot each, a year to expiry), so the invariants hold."""
    from datetime import timedelta

    from app.extensions import db
    from app.models.points import PointEntry, PointLot

    db.session.execute(
        PointEntry.__table__.insert(),
        [
            {
                "member_id": i,
                "delta": points,
                "reason": "adjustment",
                "ref": f"seed:{i}",
                "balance_after": points,
                "note": "",
                "created_at": now,
            }
            for i in ids
        ],
    )
    db.session.execute(
        PointLot.__table__.insert(),
        [
            {
                "member_id": i,
                "earned": points,
                "remaining": points,
                "expires_on": (now + timedelta(days=365)).date(),
                "created_at": now,
            }
            for i in ids
        ],
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn_server(
    db_url: str,
    prefix: str,
    workers: int = 4,
    threads: int = 8,
    **extra_env: str,
) -> Iterator[str]:
    """gunicorn (gthread) serving wsgi:app on a free port; yields its base URL."""
    port = _free_port()
    env = _app_env(
        db_url,
        prefix,
        DB_POOL_SIZE=str(threads),
        DB_MAX_OVERFLOW="4",
        **extra_env,
    )
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "-w",
            str(workers),
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # 4 workers importing the app at once take 30-35 s when the 2 cores are shared (load ~12).
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not become healthy in 120 s")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def machine_busy_seconds() -> float:
    """CPU seconds every core of this machine has spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Stats:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0
    # Machine-wide CPU (client, server, database) while the requests ran: what a request costs
    # when the cores are the limit, steadier from run to run than req/s on a small machine.
    busy: float = 0.0

    @property
    def cpu_ms(self) -> float:
        return self.busy / self.count * 1000 if self.count else float("nan")

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000

    def row(self) -> list[str]:
        return [
            self.name,
            str(self.count),
            f"{self.throughput:,.0f}",
            f"{self.pct(50):.1f}",
            f"{self.pct(95):.1f}",
            f"{self.pct(99):.1f}",
            f"{self.cpu_ms:.2f}",
            " ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items())),
        ]


def drive(
    name: str,
    request_for: Callable[[int, requests.Session], requests.Response],
    count: int,
    concurrency: int = 32,
) -> Stats:
    """Send `count` requests from `concurrency` threads; request_for(i, session) sends number i."""
    stats = Stats(name)
    lock = threading.Lock()
    counter = iter(range(count))

    def worker() -> None:
        session = requests.Session()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            started = time.perf_counter()
            response = request_for(i, session)
            took = time.perf_counter() - started
            with lock:
                stats.latencies.append(took)
                stats.statuses[response.status_code] = (
                    stats.statuses.get(response.status_code, 0) + 1
                )

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    busy, started = machine_busy_seconds(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats.elapsed = time.perf_counter() - started
    stats.busy = machine_busy_seconds() - busy
    return stats


def print_table(rows: list[Stats], title: str = "") -> None:
    header = ["endpoint", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "cpu ms", "statuses"]
    table = [header] + [s.row() for s in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    if title:
        print(title)
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- wrk: a client whose own CPU does not cap the reference -----------------------------------
# A Python client spends about 2 ms of CPU per request, which on this 2-core machine caps the
# no-op ping near what the app does and flatters every ratio. wrk (Debian package `wrk`) sends
# the same requests from C; a Lua script cycles through the prepared requests (each thread from
# its own offset) and may add a fresh Idempotency-Key to each.

_WRK_LUA = r"""
local items = {ITEMS}
local fresh_key = {FRESH_KEY}
local stop_on = {STOP_ON}  -- a thread stops at the first answer whose body has this (or nil)
local threads = {}
local counter, offset = 0, 0
statuses = {}  -- globals: done() reads each thread's with thread:get
codes = {}  -- the error codes of the answers that have one

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  offset = (tid * 7919) % #items
  math.randomseed(os.time() + tid * 1000003)
end

function request()
  counter = counter + 1
  local item = items[((offset + counter) % #items) + 1]
  local headers = {}
  for k, v in pairs(item[3]) do headers[k] = v end
  if fresh_key then
    headers["Idempotency-Key"] = string.format("w%d-%d-%d", tid, counter, math.random(1, 2^30))
  end
  return wrk.format(item[1], item[2], headers, item[4])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local code = status >= 400 and body and string.match(body, '"code"%s*:%s*"([^"]+)"')
  if code then codes[code] = (codes[code] or 0) + 1 end
  if stop_on and body and string.find(body, stop_on, 1, true) then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local merged, merged_codes = {}, {}
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("statuses")) do merged[k] = (merged[k] or 0) + v end
    for k, v in pairs(thread:get("codes")) do merged_codes[k] = (merged_codes[k] or 0) + v end
  end
  local parts, code_parts = {}, {}
  for k, v in pairs(merged) do table.insert(parts, string.format('"%d": %d', k, v)) end
  for k, v in pairs(merged_codes) do table.insert(code_parts, string.format('"%s": %d', k, v)) end
  io.write(string.format(
    'WRK {"requests": %d, "seconds": %f, "p50": %f, "p95": %f, "p99": %f, ' ..
    '"errors": %d, "statuses": {%s}, "codes": {%s}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ", "), table.concat(code_parts, ", ")))
end
"""


def _lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


@dataclass
class WrkStats:
    """What one wrk run measured; prints as a row of print_table like Stats."""

    name: str
    count: int = 0
    elapsed: float = 0.0
    p50: float = float("nan")
    p95: float = float("nan")
    p99: float = float("nan")
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    busy: float = 0.0
    codes: dict[str, int] = field(default_factory=dict)  # error codes in the answers' bodies

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    @property
    def cpu_ms(self) -> float:
        return self.busy / self.count * 1000 if self.count else float("nan")

    def row(self) -> list[str]:
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items()))
        if self.errors:
            statuses += f" socket-errors:{self.errors}"
        return [
            self.name,
            str(self.count),
            f"{self.throughput:,.0f}",
            f"{self.p50:.1f}",
            f"{self.p95:.1f}",
            f"{self.p99:.1f}",
            f"{self.cpu_ms:.2f}",
            statuses,
        ]


def wrk(
    name: str,
    base: str,
    requests_: list[tuple[str, str, dict[str, str], str]],
    seconds: float = 10,
    connections: int = 32,
    threads: int = 2,
    fresh_key: bool = False,
    stop_on: str | None = None,
    until: Callable[[], bool] | None = None,
) -> WrkStats:
    """Drive `base` with wrk for `seconds`, cycling through `requests_` (method, path, headers,
    body); with fresh_key every request carries a new Idempotency-Key.

    With `stop_on`, each wrk thread stops at the first answer whose body contains it (so its
    latencies end there). With `until`, polled every 0.2 s while wrk runs, wrk is interrupted
    (SIGINT: it reports what it did so far) half a second after `until()` turns true: the run
    then lasts what it needed rather than `seconds` (wrk's threads stopping on their own do not
    end its run)."""
    import json
    import shutil
    import tempfile

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian package)")

    def lua_item(method: str, path: str, headers: dict[str, str], body: str) -> str:
        pairs = ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items())
        lua_body = _lua_string(body) if body else "nil"
        return f"{{{_lua_string(method)}, {_lua_string(path)}, {{{pairs}}}, {lua_body}}}"

    items = ",\n".join(lua_item(*item) for item in requests_)
    script = (
        _WRK_LUA.replace("{ITEMS}", "{" + items + "}")
        .replace("{FRESH_KEY}", "true" if fresh_key else "false")
        .replace("{STOP_ON}", _lua_string(stop_on) if stop_on else "nil")
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        busy = machine_busy_seconds()
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
        proc = subprocess.Popen(
            [*command, "-s", f.name, base],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if until is not None:
            while proc.poll() is None:
                if until():
                    time.sleep(0.5)
                    proc.send_signal(signal.SIGINT)
                    break
                time.sleep(0.2)
        out, err = proc.communicate()
        busy = machine_busy_seconds() - busy
        if proc.returncode != 0:
            raise RuntimeError(f"wrk exited {proc.returncode}: {err.strip()}")
    finally:
        os.unlink(f.name)
    line = next(line for line in out.splitlines() if line.startswith("WRK "))
    data = json.loads(line[4:])
    return WrkStats(
        name,
        count=data["requests"],
        elapsed=data["seconds"],
        p50=data["p50"],
        p95=data["p95"],
        p99=data["p99"],
        errors=data["errors"],
        statuses={int(k): v for k, v in data["statuses"].items()},
        busy=busy,
        codes=data["codes"],
    )
