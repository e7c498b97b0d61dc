"""A mall item's stock over counter rows (mall_stock_shards): an exchange locks one shard, not
the item's row; units that no single shard has are taken across shards; a cancel gives them
back; marketing's stock changes move the shards."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text

from tests.concurrency import member_auth

pytest_plugins = ["tests.engagement_factories", "tests.mall_factories"]


def _shards(session, item_id: int) -> list[tuple[int, int]]:
    from app.models.mall import MallStockShard

    session.expire_all()
    return session.execute(
        select(MallStockShard.stock, MallStockShard.exchanged)
        .where(MallStockShard.item_id == item_id)
        .order_by(MallStockShard.shard)
    ).all()


def _exchange(client, member, item, quantity=1):
    return client.post(
        f"/api/v1/mall/items/{item.id}/exchanges",
        json={"quantity": quantity},
        headers=member_auth(member.id),
    )


def test_an_item_is_born_with_its_stock_spread_over_the_shards(session, make_item):
    from app.models.stock_shards import STOCK_SHARDS

    item = make_item(stock_total=37)
    shards = _shards(session, item.id)
    assert len(shards) == STOCK_SHARDS
    assert [s for s, _ in shards] == [3] * 5 + [2] * 11 and sum(s for s, _ in shards) == 37
    assert item.exchanged == 0 and item.stock_left == 37


def test_an_exchange_holds_one_shard_and_never_the_items_row(app, session, make_item, make_member):
    """While an exchange's transaction is open, another connection can update the item's row (a
    marketer's edit: FOR NO KEY UPDATE) and lock every shard but one without waiting; the
    exchange holds only the foreign keys' share lock on the item, which no exchange waits for."""
    from app.extensions import db
    from app.services import ledger, mall

    item = make_item(stock_total=32, limit_per_member=5)
    member = make_member()
    ledger.earn(session, member.id, 1000, reason="adjustment", ref="seed")
    session.commit()
    other = create_engine(db.engine.url, poolclass=None)
    with other.connect() as probe:
        mall.exchange(db.session, member.id, item.id)  # open: not committed
        with probe.begin():
            probe.execute(
                text("SELECT id FROM mall_items WHERE id = :i FOR NO KEY UPDATE NOWAIT"),
                {"i": item.id},
            )
            free = probe.execute(
                text(
                    "SELECT shard FROM mall_stock_shards WHERE item_id = :i FOR UPDATE SKIP LOCKED"
                ),
                {"i": item.id},
            ).all()
        assert len(free) == 15
        db.session.commit()
    other.dispose()
    assert sum(e for _, e in _shards(session, item.id)) == 1


def test_units_no_single_shard_has_are_taken_across_shards_and_given_back(
    client, session, make_item, make_member, grant
):
    """Stock 16 is one unit a shard: an exchange of 3 takes one from each of three shards; a
    cancel returns all three; the last units go to whoever asks for no more than are left."""
    item = make_item(stock_total=16, limit_per_member=20, cost_points=10)
    member = make_member()
    grant(member, 1000)
    made = _exchange(client, member, item, quantity=3)
    assert made.status_code == 201, made.get_json()
    assert sorted(e for _, e in _shards(session, item.id)) == [0] * 13 + [1] * 3
    assert _exchange(client, member, item, quantity=12).status_code == 201
    over = _exchange(client, member, item, quantity=2)
    assert over.status_code == 409 and over.get_json()["error"]["code"] == "mall.out_of_stock"
    assert _exchange(client, member, item, quantity=1).status_code == 201
    assert [e for _, e in _shards(session, item.id)] == [1] * 16

    cancel = client.post(
        f"/api/v1/me/exchanges/{made.get_json()['exchange']['id']}/cancel",
        headers=member_auth(member.id),
    )
    assert cancel.status_code == 200, cancel.get_json()
    assert sum(e for _, e in _shards(session, item.id)) == 13
    again = _exchange(client, member, item, quantity=3)
    assert again.status_code == 201 and again.get_json()["exchange"]["points_spent"] == 30


@pytest.mark.parametrize(
    ("total", "shards_after"),
    [(48, [3] * 16), (20, [2] * 4 + [1] * 12), (4, [1, 1, 1, 1] + [0] * 12)],
)
def test_a_stock_change_moves_the_shards(
    client, session, make_item, make_member, grant, make_staff, staff_headers, total, shards_after
):
    item = make_item(stock_total=16, limit_per_member=20)
    member = make_member()
    grant(member, 10_000)
    assert _exchange(client, member, item, quantity=4).status_code == 201  # 4 shards used
    used = [e for _, e in _shards(session, item.id)]
    marketer = staff_headers(make_staff("marketer"))
    changed = client.patch(
        f"/staff/v1/admin/mall-items/{item.id}", json={"stock_total": total}, headers=marketer
    )
    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["stock_total"], changed.get_json()["stock_left"]) == (
        total,
        total - 4,
    )
    shards = _shards(session, item.id)
    assert sum(s for s, _ in shards) == total
    assert all(e <= s for s, e in shards)
    assert [e for _, e in shards] == used  # what was exchanged stays where it was
    if total == 48:
        assert [s for s, _ in shards] == shards_after
