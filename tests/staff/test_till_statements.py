"""What a purchase costs in statements, counted: a purchase without points must not get slower
because the till can take points (issue 16), and one that redeems pays only for its ledger steps."""

from __future__ import annotations

from tests.test_coupons_statements import counting


def _buy(client, headers, scan_id, order_no, amount_fen, **extra):
    body = {"scan_id": scan_id, "order_no": order_no, "amount_fen": amount_fen, **extra}
    return client.post("/staff/v1/purchases", json=body, headers=headers)


def test_a_purchase_without_points_costs_what_it_did(
    app, client, make_store, make_staff, make_member, staff_headers, scan_for
):
    store = make_store()
    clerk = make_staff("clerk", store=store)
    member = make_member(store=store)
    headers = staff_headers(clerk)
    scan_id = scan_for(member, clerk)
    _buy(client, headers, scan_id, "W-1", 10_000)  # warm: settings, compiled SQL
    with counting(app) as sent:
        assert _buy(client, headers, scan_id, "W-2", 10_000).status_code == 201
    assert len(sent) == 4, sent


def test_a_purchase_redeeming_points_pays_only_for_its_ledger_steps(
    app, client, session, make_store, make_staff, make_member, staff_headers, scan_for, grant
):
    from app.services import programs
    from app.services.ledger import points_program

    cfg = points_program.config(session)
    cfg["redeem"] = {"points_per_yuan_off": 100, "max_share_percent": 50, "min_points": 0}
    store = make_store()
    clerk = make_staff("clerk", store=store)
    programs.put_config(session, "points", cfg, clerk)
    session.commit()
    programs.forget_cached()
    member = make_member(store=store)
    grant(member, 10_000)
    headers = staff_headers(clerk)
    scan_id = scan_for(member, clerk)
    _buy(client, headers, scan_id, "W-1", 10_000, points_to_redeem=100)  # warm
    with counting(app) as sent:
        answer = _buy(client, headers, scan_id, "W-2", 10_000, points_to_redeem=100)
    assert answer.status_code == 201
    # The plain purchase's 4, the order's coupons, and the spend: lock and expire the member,
    # then one statement (rules.TAKE) for the entry, the balance and the lots it takes.
    assert len(sent) == 8, sent
