"""`orders import --format lines`: orders with their lines, members matched or created in bulk,
products filled, a bad line skips its whole order, twice = once, a failure part-way leaves
nothing merged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app import clock
from app.models import Member, Purchase
from app.models.products import Product
from app.models.till import PurchaseLine

HEADER = (
    "order_no,store_code,customer_id,phone,paid_at,sku,name,category,quantity,unit_price_fen,"
    "amount_fen\n"
)
LINES = HEADER + (
    "T1,S001,C1,,2026-05-01 10:00,690001,牛奶,乳品,2,650,1300\n"
    "T1,S001,C1,,2026-05-01 10:00,690002,面包,烘焙,1,800,800\n"
    "T2,S001,,13900001111,2026-05-02 09:00,690001,牛奶,乳品,1,650,650\n"
    "T3,S001,C2,,2026-05-03 09:00,690003,可乐,饮料,3,300,900\n"
    "T3,S001,C2,,2026-05-03 09:00,690004,薯片,零食,x,500,500\n"
    "T4,S001,C3,,2026-05-04 09:00,690003,可乐,饮料,1,300,300\n"
    "T4,S001,C4,,2026-05-04 09:00,690004,薯片,零食,1,500,500\n"
    "T5,NOPE,C5,,2026-05-05 09:00,690001,牛奶,乳品,1,650,650\n"
    "T6,S002,C1,,2026-05-06 09:00,690001,鲜牛奶,乳品,1,700,700\n"
)


def _import(app, tmp_path, text: str, name="lines.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["orders", "import", str(path), "--format", "lines"])
    assert result.exit_code == 0, result.output
    return result.output


def test_orders_with_their_lines_and_a_bad_line_skips_its_order(
    app, session, tmp_path, make_store, make_member
):
    clock.freeze(datetime(2026, 6, 1, tzinfo=UTC))
    first, second = make_store(code="S001"), make_store(code="S002")
    known = make_member(second, phone="13900001111")
    output = _import(app, tmp_path, LINES)
    assert "9 lines: 3 purchases imported, 0 already imported, 1 members created" in output
    assert "4 order lines stored" in output
    assert "line 6: quantity 'x' is not a whole number" in output
    assert "line 5: another line of order T3 is bad" in output
    assert "line 7: the lines of order T4 name different customers or times" in output
    assert "line 8: the lines of order T4 name different customers or times" in output
    assert "line 9: unknown store code 'NOPE'" in output

    purchases = {p.order_no: p for p in session.scalars(select(Purchase))}
    assert set(purchases) == {"T1", "T2", "T6"}
    t1 = purchases["T1"]
    assert (t1.amount_fen, t1.items, t1.store_id, t1.source, t1.points_awarded) == (
        2100,
        3,
        first.id,
        "import",
        0,
    )
    assert t1.paid_at == datetime(2026, 5, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    lines = session.execute(
        select(
            PurchaseLine.line_no, PurchaseLine.sku, PurchaseLine.quantity, PurchaseLine.amount_fen
        )
        .where(PurchaseLine.purchase_id == t1.id)
        .order_by(PurchaseLine.line_no)
    ).all()
    assert lines == [(1, "690001", 2, 1300), (2, "690002", 1, 800)]
    assert purchases["T2"].member_id == known.id  # matched by phone
    c1 = session.scalars(select(Member).where(Member.external_id == "C1")).one()
    assert purchases["T6"].member_id == c1.id and purchases["T6"].store_id == second.id
    assert c1.joined_at == t1.paid_at and c1.store_id == first.id
    assert len(c1.member_no) == 12 and len(c1.referral_code) == 8
    from app.services.identifiers import luhn_digit

    assert c1.member_no[-1] == luhn_digit(c1.member_no[:-1])
    products = {p.sku: (p.name, p.category) for p in session.scalars(select(Product))}
    assert products["690001"] == ("鲜牛奶", "乳品")  # as its newest line names it
    assert products["690002"] == ("面包", "烘焙")

    again = _import(app, tmp_path, LINES)
    assert "0 purchases imported, 3 already imported, 0 members created" in again
    assert session.scalar(select(func.count()).select_from(Purchase)) == 3
    assert session.scalar(select(func.count()).select_from(PurchaseLine)) == 4
    assert session.scalar(select(func.count()).select_from(Member)) == 2


def test_an_order_changed_since_it_was_imported_is_a_clash(app, session, tmp_path, make_store):
    clock.freeze(datetime(2026, 6, 1, tzinfo=UTC))
    make_store(code="S001")
    _import(app, tmp_path, HEADER + "T1,S001,C1,,2026-05-01,A,a,x,1,100,100\n")
    changed = _import(app, tmp_path, HEADER + "T1,S001,C1,,2026-05-01,A,a,x,2,100,200\n")
    assert "line 2: order T1 already exists at this store with other details" in changed
    assert session.scalar(select(Purchase.amount_fen)) == 100


def test_many_new_members_get_distinct_numbers_and_codes(app, session, tmp_path, make_store):
    clock.freeze(datetime(2026, 6, 1, tzinfo=UTC))
    make_store(code="S001")
    rows = "".join(f"O{i},S001,K{i},,2026-05-01,A,a,x,1,100,100\n" for i in range(2_000))
    output = _import(app, tmp_path, HEADER + rows)
    assert "2000 purchases imported, 0 already imported, 2000 members created" in output
    numbers = session.execute(select(Member.member_no, Member.referral_code)).all()
    assert len({n for n, _ in numbers}) == len({c for _, c in numbers}) == 2_000


def test_a_failure_part_way_leaves_nothing_merged(app, session, tmp_path, make_store, monkeypatch):
    """The merge is one transaction: a statement failing after members, purchases and lines were
    written (here the products' upsert, made to divide by zero) leaves none of them."""
    from sqlalchemy import text

    from app.services.till import order_import

    clock.freeze(datetime(2026, 6, 1, tzinfo=UTC))
    make_store(code="S001")
    monkeypatch.setattr(order_import, "_PRODUCTS", text("SELECT 1 / 0"))
    path = tmp_path / "lines.csv"
    path.write_text(LINES, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["orders", "import", str(path), "--format", "lines"])
    assert result.exit_code != 0
    session.rollback()
    for model in (Purchase, PurchaseLine, Member, Product):
        assert session.scalar(select(func.count()).select_from(model)) == 0


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("order_no,customer_id,paid_at,sku,quantity,amount_fen\n", "header must name"),
        (HEADER.replace("phone", "telephone"), "header must name"),
    ],
)
def test_a_lines_file_with_a_wrong_header_imports_nothing(
    app, session, tmp_path, make_store, header, reason
):
    make_store(code="S001")
    output = _import(app, tmp_path, header + "T1,S001,C1,,2026-05-01,A,a,x,1,100,100\n")
    assert f"line 1: {reason}" in output
    assert "telephone" in output or "telephone" not in header
    assert session.scalar(select(func.count()).select_from(Purchase)) == 0
