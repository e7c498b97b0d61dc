"""`orders import --format csv`: members matched or created, bad lines reported, twice = once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from app import clock
from app.models import Member, Purchase

CSV = """customer_id,phone,paid_at,amount_yuan,items,order_no,store_code,nickname
C001,,2026-03-01,128.50,3,,,Li Lei
C001,,2026-03-09 19:30,20,1,,,
,139 0000 1111,2026-04-02T10:00:00+08:00,99.9,,,S002,
C002,13900002222,2026-04-05,12.345,1,,,
C003,,2026-04-06,-5,1,,,
C004,,not a date,5,1,,,
C005,,2026-04-07,15,1,,NOPE,
C006,,2099-01-01,15,1,,,
C007,,2026-04-08,15,1,A-1,,
C008,,2026-04-09,16,1,A-1,,
C001,,2026-03-01,128.50,3,,,
"""


def test_csv_import_reports_bad_lines_and_is_safe_to_rerun(
    app, session, tmp_path, make_store, make_member
):
    clock.freeze(datetime(2026, 6, 1, tzinfo=UTC))
    make_store(code="S001")
    second = make_store(code="S002")
    known = make_member(second, phone="13900001111")
    path = tmp_path / "orders.csv"
    path.write_text("\ufeff" + CSV, encoding="utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["orders", "import", str(path), "--format", "csv", "--store", "S001"]
    )
    assert result.exit_code == 0, result.output
    assert "11 lines: 5 purchases imported, 0 already imported, 2 members created" in result.output
    assert "line 5: amount '12.345' has more than two decimals" in result.output
    assert "line 6: amount '-5' is not a non-negative number" in result.output
    assert "line 7: date 'not a date' is not a date" in result.output
    assert "line 8: unknown store code 'NOPE'" in result.output
    assert "line 9: paid_at is in the future" in result.output
    assert "line 11: order A-1 already exists at this store with other details" in result.output

    purchases = session.execute(select(Purchase).order_by(Purchase.paid_at)).scalars().all()
    assert [(p.order_no[:4], p.amount_fen, p.source, p.points_awarded) for p in purchases] == [
        ("imp-", 12850, "import", 0),
        ("imp-", 12850, "import", 0),  # the same line twice in a file is two orders
        ("imp-", 2000, "import", 0),
        ("imp-", 9990, "import", 0),
        ("A-1", 1500, "import", 0),
    ]
    # 19:30 on a business day in Shanghai is 11:30 UTC.
    assert purchases[2].paid_at == datetime(2026, 3, 9, 11, 30, tzinfo=UTC)
    # The phone matched the member who already had it, at the store the line named.
    assert purchases[3].member_id == known.id and purchases[3].store_id == second.id
    li_lei = session.execute(select(Member).where(Member.external_id == "C001")).scalar_one()
    assert li_lei.nickname == "Li Lei"
    assert li_lei.joined_at == datetime(2026, 3, 1, 4, tzinfo=UTC)  # noon of the first order
    assert li_lei.points_balance == 0

    again = runner.invoke(
        args=["orders", "import", str(path), "--format", "csv", "--store", "S001"]
    )
    assert again.exit_code == 0, again.output
    assert "0 purchases imported, 5 already imported, 0 members created" in again.output
    assert session.scalar(select(func.count()).select_from(Purchase)) == 5
    assert session.scalar(select(func.count()).select_from(Member)) == 3


def test_a_file_with_a_wrong_header_imports_nothing(app, session, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("who,when,how_much\nC1,2026-01-01,5\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["orders", "import", str(path), "--format", "csv"])
    assert "line 1: header must name paid_at and amount_yuan or amount_fen" in result.output
    assert session.scalar(select(func.count()).select_from(Purchase)) == 0


def test_cdnow_lines_that_cannot_be_read_are_reported(app, session, tmp_path):
    path = tmp_path / "cdnow.txt"
    path.write_text(
        " 00004 0001 19970101  2   29.33\n 00005 0002 19971301  1  10.00\n 00006 0003\n",
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(args=["orders", "import", str(path), "--format", "cdnow"])
    assert "line 2: date '19971301' is not a date" in result.output
    assert "line 3: expected 5 fields, found 2" in result.output
    assert "1 purchases imported" in result.output


def test_history_from_1997_imports_and_impossible_dates_are_bad_lines(
    app, session, tmp_path, make_store
):
    """Old history is what the import is for (CDNOW is 1997-98, before the tills' 2000 floor and
    before any store row existed); a year like 0197 or 1969 is a typo, reported and skipped,
    never a member whose history spans millennia. Issue 14, item 2."""
    clock.freeze(datetime(2026, 6, 1, tzinfo=UTC))
    make_store(code="S001")
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,paid_at,amount_yuan\n"
        "H1,1997-01-01,10\n"
        "H1,1998-06-30 18:00,20\n"
        "H2,0197-05-01,30\n"
        "H3,1969-12-31 23:30,40\n",
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(
        args=["orders", "import", str(path), "--format", "csv", "--store", "S001"]
    )
    assert result.exit_code == 0, result.output
    assert "4 lines: 2 purchases imported" in result.output
    assert "line 4: paid_at is before 1970-01-01" in result.output
    assert "line 5: paid_at is before 1970-01-01" in result.output
    imported = session.execute(select(Purchase.amount_fen).order_by(Purchase.paid_at)).scalars()
    assert list(imported) == [1000, 2000]
