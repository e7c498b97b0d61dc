"""What a claim and a member's coupon list cost in statements: counted, so that a change that
adds one fails here (the flash sale of issue 15 is bound by round trips and the hot rows)."""

from __future__ import annotations

import contextlib

from sqlalchemy import event

pytest_plugins = ["tests.engagement_factories"]


@contextlib.contextmanager
def counting(app):
    """Every statement the app's engine sends meanwhile (SAVEPOINTs included), as SQL text."""
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_claim_is_one_statement_and_a_keyed_claim_one_more(
    app, client, session, make_member, member_headers, make_template
):
    member = make_member()
    template = make_template(stock_total=10, limit_per_member=3)
    path = f"/api/v1/coupons/{template.id}/claims"
    plain = member_headers(member)
    client.post(path, headers=plain)  # warm: settings, compiled SQL
    with counting(app) as unkeyed:
        assert client.post(path, headers=plain).status_code == 201
    keyed_headers = member_headers(member, **{"Idempotency-Key": "k1"})
    with counting(app) as keyed:
        assert client.post(path, headers=keyed_headers).status_code == 201
    # The member's check (auth) and the claim's statement; with a key, the answer's UPDATE.
    assert len(unkeyed) == 2, unkeyed
    assert len(keyed) == len(unkeyed) + 1, keyed
    # A refusal costs the same: limit reached (3 held) without and with a key.
    refused_headers = member_headers(member, **{"Idempotency-Key": "k2"})
    with counting(app) as refused:
        assert client.post(path, headers=plain).status_code == 409
    with counting(app) as refused_keyed:
        assert client.post(path, headers=refused_headers).status_code == 409
    assert (len(refused), len(refused_keyed)) == (2, 3), (refused, refused_keyed)


def test_my_coupons_costs_the_same_for_1_and_30_templates(
    app, client, session, make_member, member_headers, make_template
):
    from app.services.coupons import issue_coupon

    def listing_cost(templates: int) -> int:
        member = make_member()
        for n in range(templates):
            template = make_template(name=f"券{n}")
            issue_coupon(session, template.id, member.id, source="push", ref=f"p:{member.id}:{n}")
        session.commit()
        headers = member_headers(member)
        session.commit()
        client.get("/api/v1/me/coupons", headers=headers)  # warm
        with counting(app) as sent:
            page = client.get("/api/v1/me/coupons?limit=50", headers=headers)
        assert page.status_code == 200 and len(page.get_json()["items"]) == templates
        return len(sent)

    one, thirty = listing_cost(1), listing_cost(30)
    assert one == thirty, (one, thirty)
    assert one <= 3
