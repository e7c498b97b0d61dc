"""Signed but wrong: bad bodies from a POS are 4xx with the contract's codes, never a 500."""

from __future__ import annotations

import pytest
import requests

from app.models import Purchase
from tests.pos.test_pos_purchases import LINES, count

BAD_PURCHASES = [
    {},
    {"order_no": "B-1", "amount_fen": 100},  # no member named
    {"order_no": "B-1", "amount_fen": 100, "member_no": "1", "phone": "13800000001"},  # two
    {"order_no": "B-1", "amount_fen": "100", "member_no": "1"},
    {"order_no": "B-1", "amount_fen": 0, "member_no": "1"},
    {"order_no": "", "amount_fen": 100, "member_no": "1"},
    {"order_no": "B-1", "amount_fen": 100, "member_no": "1", "lines": []},
    {"order_no": "B-1", "amount_fen": 100, "member_no": "1", "lines": [{"sku": "x"}]},
    {"order_no": "B-1", "amount_fen": 100, "member_no": "1", "lines": "TEA"},
    {"order_no": "B-1", "amount_fen": 100, "member_no": "1", "coupon_codes": ["A", "a"]},
    {"order_no": "B-1", "amount_fen": 100, "member_no": "1", "points_to_redeem": -1},
    {"order_no": "B-1", "amount_fen": 10_000, "member_no": "1",
     "lines": [dict(LINES[0], quantity=0), LINES[1]]},
]  # fmt: skip


@pytest.mark.parametrize("body", BAD_PURCHASES)
def test_a_bad_purchase_is_422_and_writes_nothing(pos, make_member, session, body):
    make_member(member_no="1")
    response = pos.post("/pos/v1/purchases", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "request.invalid"
    assert count(session, Purchase) == 0


def test_refunds_of_nothing_and_bad_refunds(pos):
    missing = pos.refund("NOPE", "R-1", 100)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "purchase.not_found"
    bad = [
        {},
        {"refund_no": "R", "amount_fen": -5},
        {"refund_no": "R", "amount_fen": 1, "lines": [{"amount_fen": 1}]},
    ]
    for body in bad:
        response = pos.post("/pos/v1/purchases/NOPE/refunds", body)
        assert response.status_code == 422, response.text


def test_a_body_that_is_not_json_is_refused(pos):
    raw = b"not json"
    headers = pos.headers("POST", "/pos/v1/purchases", raw)
    response = requests.post(pos.base_url + "/pos/v1/purchases", data=raw, headers=headers,
                             timeout=10)  # fmt: skip
    assert response.status_code == 400, response.text
