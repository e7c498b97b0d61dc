"""`flask --app wsgi demo load`: two stores, one account per role, a few members. Idempotent."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import Member, Staff, Store
from app.models.coupons import CouponTemplate
from app.models.lottery import Lottery
from app.schemas.coupons import CouponTemplateSchema
from app.schemas.lottery import LotteryAdminSchema
from app.services import identifiers
from app.services import staff as staff_service
from app.services.coupons import coupon_admin
from app.services.lottery import lottery_admin

demo_cli = AppGroup("demo", help="Demo data for the sandbox.")

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
    _load_engagement(session)
    return STAFF


def _load_engagement(session) -> None:
    """A claimable coupon and an open points lottery, made as the marketer would make them
    (through the admin schemas and services), so a new sandbox has something to claim and draw."""

    marketer = session.execute(select(Staff).where(Staff.username == "marketer")).scalar_one()
    coupon = session.execute(
        select(CouponTemplate).where(CouponTemplate.name == "满30减5")
    ).scalar_one_or_none()
    if coupon is None:
        fields = CouponTemplateSchema().load(
            {
                "name": "满30减5",
                "kind": "threshold_off",
                "amount_off_fen": 500,
                "threshold_fen": 3000,
                "validity_mode": "relative",
                "valid_days": 30,
                "stock_total": 1000,
                "limit_per_member": 1,
            }
        )
        coupon_admin.create_template(session, fields, marketer)
        coupon = session.execute(
            select(CouponTemplate).where(CouponTemplate.name == "满30减5")
        ).scalar_one()
    if session.execute(select(Lottery).where(Lottery.name == "幸运大转盘")).first() is None:
        now = clock.now()
        fields = LotteryAdminSchema().load(
            {
                "name": "幸运大转盘",
                "cost_points": 10,
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(days=365)).isoformat(),
                "daily_draw_limit": 3,
                "prizes": [
                    {"name": "谢谢参与", "kind": "none", "weight": 60},
                    {
                        "name": "20积分",
                        "kind": "points",
                        "points": 20,
                        "weight": 30,
                        "stock_total": 10000,
                    },
                    {
                        "name": "满30减5券",
                        "kind": "coupon",
                        "coupon_template_id": coupon.id,
                        "weight": 10,
                        "stock_total": 200,
                        "daily_cap": 20,
                    },
                ],
            }
        )
        lottery_admin.create_lottery(session, fields, marketer)


@demo_cli.command("load")
def load() -> None:
    """Load the demo data and print the credentials."""
    accounts = load_demo()
    click.echo(f"Demo staff accounts (password for all: {DEMO_PASSWORD}):")
    for username, role, store in accounts:
        click.echo(f"  {username:<10} {role:<9} {store or 'all stores'}")
