"""Promotions at the POS (issue 19): the same points as at the till, over signed HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import ledger_invariants
from tests.staff.test_promotions import LINES

pytest_plugins = ["tests.staff.test_promotions"]  # promote, marketer


def test_the_pos_earns_by_promotions_too(pos, promote, make_member, session):
    member = make_member()
    now = datetime.now(UTC)
    window = {"starts_at": (now - timedelta(days=1)).isoformat(),
              "ends_at": (now + timedelta(days=1)).isoformat()}  # fmt: skip
    bakery = promote(name="烘焙双倍", categories=["bakery"], store_ids=[pos.store.id], **window)
    response = pos.buy("P-1", 10_000, member_no=member.member_no, lines=LINES)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["points_awarded"], body["promotions"]) == (
        170,
        [{"id": bakery["id"], "name": "烘焙双倍", "points": 70}],
    )
    assert ledger_invariants(session, member.id) == 170
