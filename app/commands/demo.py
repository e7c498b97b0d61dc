"""`flask --app wsgi demo load`: two stores, one account per role, a few members. Idempotent."""

from __future__ import annotations

import click
from sqlalchemy import select

from app.cli import demo_cli
from app.extensions import db
from app.models import Member, Staff, Store
from app.services import identifiers
from app.services import staff as staff_service

DEMO_PASSWORD = "demo-pass-123"
STAFF = [
    ("admin", "admin", None),
    ("marketer", "marketer", None),
    ("manager1", "manager", "S001"),
    ("clerk1", "clerk", "S001"),
    ("clerk2", "clerk", "S002"),
]


def load_demo() -> list[tuple[str, str, str | None]]:
    """Create what is missing; returns the demo accounts (username, role, store code)."""
    session = db.session
    stores = {}
    for code, name in (("S001", "人民广场店"), ("S002", "徐家汇店")):
        store = session.execute(select(Store).where(Store.code == code)).scalar_one_or_none()
        if store is None:
            store = staff_service.create_store(session, {"code": code, "name": name})
        stores[code] = store
    for username, role, store_code in STAFF:
        exists = session.execute(select(Staff).where(Staff.username == username)).first()
        if exists is None:
            staff_service.create_staff(
                session,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                store_id=stores[store_code].id if store_code else None,
                display_name=username,
            )
    for i, nickname in enumerate(("小王", "小李", "小张"), start=1):
        openid = f"demo-openid-{i}"
        if session.execute(select(Member).where(Member.openid == openid)).first() is None:
            session.add(
                Member(
                    member_no=identifiers.new_member_no(),
                    openid=openid,
                    referral_code=identifiers.new_referral_code(),
                    nickname=nickname,
                    phone=f"1380000000{i}",
                    store_id=stores["S001"].id,
                )
            )
    session.commit()
    return STAFF


@demo_cli.command("load")
def load() -> None:
    """Load the demo data and print the credentials."""
    accounts = load_demo()
    click.echo(f"Demo staff accounts (password for all: {DEMO_PASSWORD}):")
    for username, role, store in accounts:
        click.echo(f"  {username:<10} {role:<9} {store or 'all stores'}")
