"""`flask --app wsgi products import FILE`: products created or updated from the chain's file
(an empty cell keeps the value), bad lines reported with their numbers, twice the same as once,
and an order import afterwards still names skus from its newer lines."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from app import clock
from app.models.products import Product
from app.services.products import product_import

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
FILE = (
    "\ufeffsku,name,category,brand\n"
    "690001,牛奶 1L,乳品,光明\n"
    "690002,面包,烘焙,\n"
    ",没有货号,乳品,光明\n"
    "690003,可乐,饮料\n"
    '"690004","薯片, 原味",零食,乐事\n'
    "\n"
    "690005,x,饮料,可口可乐\n"
    "690005,雪碧 330ml,饮料,可口可乐\n"
    f"690006,{'长' * 201},饮料,可口可乐\n"
)


def _run(app, tmp_path, text: str, name: str = "products.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["products", "import", str(path)])
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def _products(session) -> dict:
    session.expire_all()
    return {p.sku: (p.name, p.category, p.brand) for p in session.scalars(select(Product))}


def test_products_are_created_updated_and_bad_lines_named(app, session, tmp_path):
    clock.freeze(NOW)
    session.add(Product(sku="690002", name="旧面包", category="烘焙", brand="桃李"))
    session.commit()
    out, err = _run(app, tmp_path, FILE)
    assert out.strip() == (
        "8 lines: 3 products created, 1 updated, 0 unchanged, 4 bad lines skipped"
    )
    assert err.splitlines() == [
        "line 4: sku is empty",
        "line 5: expected 4 fields, found 3",
        "line 8: sku 690005 is on line 9 again: that line is used",
        "line 10: name is longer than 200 characters",
    ]
    assert _products(session) == {
        "690001": ("牛奶 1L", "乳品", "光明"),
        "690002": ("面包", "烘焙", "桃李"),  # the empty brand kept the one it had
        "690004": ("薯片, 原味", "零食", "乐事"),
        "690005": ("雪碧 330ml", "饮料", "可口可乐"),
    }
    # Twice is the same as once.
    out, _ = _run(app, tmp_path, FILE)
    assert out.strip().startswith("8 lines: 0 products created, 0 updated, 4 unchanged")
    assert session.scalar(select(func.count()).select_from(Product)) == 4


def test_a_file_of_some_columns_changes_only_those(app, session, tmp_path):
    clock.freeze(NOW)
    _run(app, tmp_path, "sku,name,category,brand\n1,牛奶,乳品,光明\n2,面包,烘焙,桃李\n")
    out, _ = _run(app, tmp_path, "brand,sku\n蒙牛,1\n,3\n", name="brands.csv")
    assert out.strip() == "2 lines: 1 products created, 1 updated, 0 unchanged, 0 bad lines skipped"
    assert _products(session) == {
        "1": ("牛奶", "乳品", "蒙牛"),
        "2": ("面包", "烘焙", "桃李"),
        "3": ("", "", ""),
    }


def test_a_bad_header_imports_nothing(app, session, tmp_path):
    for header in ("name,category\n", "sku,price\n", "sku,sku\n"):
        out, err = _run(app, tmp_path, header + "1,2\n")
        assert err.startswith("line 1: header must name sku"), header
        assert "0 products created" in out
    assert _products(session) == {}
    assert "unknown columns: price" in _run(app, tmp_path, "sku,price\n1,2\n")[1]


def test_an_order_line_newer_than_the_file_still_names_its_sku(app, session, tmp_path, make_store):
    clock.freeze(NOW)
    make_store(code="S001")
    _run(app, tmp_path, "sku,name,category,brand\n690001,牛奶,乳品,光明\n")
    lines = (
        "order_no,store_code,customer_id,paid_at,sku,name,category,quantity,unit_price_fen,"
        "amount_fen\nT1,S001,C1,2026-05-01 10:00,690001,鲜牛奶,乳品,1,650,650\n"
    )
    path = tmp_path / "lines.csv"
    path.write_text(lines, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["orders", "import", str(path), "--format", "lines"])
    assert result.exit_code == 0, result.output
    # The POS's name is newer; the brand only the file knows stays.
    assert _products(session) == {"690001": ("鲜牛奶", "乳品", "光明")}


def test_the_service_reads_any_iterable_of_lines(session):
    clock.freeze(NOW)
    report = product_import.import_products(session, iter(["sku,category\n", "9,玩具\n"]))
    assert report.as_dict() == {"lines": 1, "created": 1, "updated": 0, "unchanged": 0, "bad": 0}
