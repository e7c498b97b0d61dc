"""Referrals: binding, qualifying, pending rewards paid by the job; refunds and fraud."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import clock
from tests.conftest import ledger_invariants

pytest_plugins = ["tests.engagement_factories"]

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    clock.freeze(NOW)


@pytest.fixture
def program(session, make_staff):
    from app.services import referrals

    def configure(**changes):
        config = {**referrals.DEFAULTS, **changes}
        referrals.save_program(session, config, make_staff("marketer"))

    return configure


@pytest.fixture
def shop(client, make_staff, staff_headers, scan_for, session):
    """A clerk who records purchases and refunds for members."""
    clerk = make_staff("clerk")
    scans: dict[int, str] = {}

    def buy(member_id: int, amount_fen: int, order_no: str):
        from app.models import Member

        member = session.get(Member, member_id)
        if member_id not in scans:
            scans[member_id] = scan_for(member, clerk)
        response = client.post(
            "/staff/v1/purchases",
            json={"scan_id": scans[member_id], "order_no": order_no, "amount_fen": amount_fen},
            headers=staff_headers(clerk),
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def refund(order_no: str, amount_fen: int, refund_no: str = "R1"):
        response = client.post(
            f"/staff/v1/purchases/{order_no}/refunds",
            json={"refund_no": refund_no, "amount_fen": amount_fen},
            headers=staff_headers(clerk),
        )
        assert response.status_code == 201, response.get_json()

    buy.refund = refund
    return buy


def invite(login, referrer_name: str, invitee_name: str):
    referrer, referrer_headers = login(referrer_name)
    invitee, invitee_headers = login(
        invitee_name, referral_code=referrer["member"]["referral_code"]
    )
    return referrer, referrer_headers, invitee, invitee_headers


def bind_phone(client, headers, phone: str):
    response = client.post(
        "/api/v1/me/phone", json={"code": f"test-phone:{phone}"}, headers=headers
    )
    assert response.status_code == 200, response.get_json()


def settle(at):
    from jobs.schedule import run_job

    clock.freeze(at)
    return run_job("referral_settlement", now=at)


def my_referrals(client, headers):
    return client.get("/api/v1/referrals", headers=headers).get_json()


def test_the_whole_life_bind_qualify_pending_granted(client, session, login, shop):
    referrer, referrer_headers, invitee, invitee_headers = invite(login, "alice", "bob")
    view = my_referrals(client, referrer_headers)
    assert view["referral_code"] == referrer["member"]["referral_code"]
    assert [i["status"] for i in view["invitees"]] == ["bound"]
    bind_phone(client, invitee_headers, "13800000002")
    shop(invitee["member"]["id"], 6000, "A-1")  # 60 yuan >= the 50 yuan minimum
    view = my_referrals(client, referrer_headers)
    assert [i["status"] for i in view["invitees"]] == ["qualified"]
    assert [(r["role"], r["points"], r["status"]) for r in view["rewards"]] == [
        ("referrer", 100, "pending")
    ]
    assert view["rewards"][0]["due_at"] == "2026-03-17T04:00:00+00:00"  # 7-day refund window
    assert settle(NOW + timedelta(days=6))["granted"] == 0
    assert settle(NOW + timedelta(days=7, minutes=1))["granted"] == 2
    assert settle(NOW + timedelta(days=8))["granted"] == 0  # a rerun pays nothing twice
    view = my_referrals(client, referrer_headers)
    assert [i["status"] for i in view["invitees"]] == ["rewarded"]
    assert view["rewards"][0]["status"] == "granted"
    assert ledger_invariants(session, referrer["member"]["id"]) == 100
    assert ledger_invariants(session, invitee["member"]["id"]) == 60 + 50


def test_my_referrals_answer_has_the_contracts_fields(client, login, shop):
    referrer, referrer_headers, invitee, invitee_headers = invite(login, "gina", "hank")
    bind_phone(client, invitee_headers, "13800000009")
    shop(invitee["member"]["id"], 6000, "H-1")
    view = my_referrals(client, referrer_headers)
    assert set(view) == {"referral_code", "program", "invitees", "rewards"}
    assert view["program"] == {
        "min_purchase_fen": 5000,
        "qualify_within_days": 30,
        "refund_window_days": 7,
        "referrer_points": 100,
        "invitee_points": 50,
    }
    (invited,) = view["invitees"]
    assert set(invited) == {
        "nickname",
        "status",
        "bound_at",
        "qualify_by",
        "qualified_at",
        "rewarded_at",
        "rejected_at",
    }
    assert invited["status"] == "qualified" and invited["bound_at"] == NOW.isoformat()
    assert invited["rewarded_at"] is None and invited["qualified_at"] is not None
    assert view["rewards"] == [
        {
            "role": "referrer",
            "points": 100,
            "coupon_template_id": None,
            "status": "pending",
            "due_at": "2026-03-17T04:00:00+00:00",
            "granted_at": None,
        }
    ]


def test_purchase_before_phone_qualifies_when_the_phone_is_bound(client, login, shop):
    _, referrer_headers, invitee, invitee_headers = invite(login, "carl", "dora")
    shop(invitee["member"]["id"], 9000, "B-1")
    assert my_referrals(client, referrer_headers)["invitees"][0]["status"] == "bound"
    bind_phone(client, invitee_headers, "13800000003")
    assert my_referrals(client, referrer_headers)["invitees"][0]["status"] == "qualified"


def test_small_purchases_do_not_qualify_and_time_runs_out(client, login, shop):
    _, referrer_headers, invitee, invitee_headers = invite(login, "erin", "fred")
    bind_phone(client, invitee_headers, "13800000004")
    shop(invitee["member"]["id"], 4999, "C-1")
    assert my_referrals(client, referrer_headers)["invitees"][0]["status"] == "bound"
    settle(NOW + timedelta(days=31))
    assert my_referrals(client, referrer_headers)["invitees"][0]["status"] == "rejected"


def test_refund_below_the_minimum_cancels_pending_rewards(client, session, login, shop):
    referrer, referrer_headers, invitee, invitee_headers = invite(login, "gina", "hank")
    bind_phone(client, invitee_headers, "13800000005")
    shop(invitee["member"]["id"], 8000, "D-1")
    shop.refund("D-1", 2000, "R1")  # 60 yuan left: still qualifies
    assert my_referrals(client, referrer_headers)["rewards"][0]["status"] == "pending"
    shop.refund("D-1", 2000, "R2")  # 40 yuan left: below the minimum
    view = my_referrals(client, referrer_headers)
    assert view["invitees"][0]["status"] == "rejected"
    assert view["rewards"][0]["status"] == "cancelled"
    assert settle(NOW + timedelta(days=10))["granted"] == 0
    assert ledger_invariants(session, referrer["member"]["id"]) == 0


def test_coupon_rewards(client, session, login, shop, program, make_template):
    from app.models.coupons import Coupon

    template = make_template(name="邀请礼", claimable=False, stock_total=10)
    program(referrer_points=0, referrer_coupon_template_id=template.id, invitee_points=0)
    referrer, _, invitee, invitee_headers = invite(login, "ivan", "jane")
    bind_phone(client, invitee_headers, "13800000006")
    shop(invitee["member"]["id"], 5000, "E-1")
    assert settle(NOW + timedelta(days=8))["granted"] == 1
    coupons = session.query(Coupon).all()
    assert [(c.member_id, c.source) for c in coupons] == [(referrer["member"]["id"], "referral")]


# ---- refusals and fraud ------------------------------------------------------------------


def _referral_of(session, member_id):
    from app.models.referrals import Referral

    return session.query(Referral).filter_by(invitee_id=member_id).one_or_none()


def test_unknown_code_and_existing_members_are_not_bound(session, login):
    member, _ = login("kate", referral_code="NOSUCHCO")
    assert _referral_of(session, member["member"]["id"]) is None
    referrer, _ = login("liam")
    again, _ = login("kate", referral_code=referrer["member"]["referral_code"])
    assert not again["is_new"]
    assert _referral_of(session, again["member"]["id"]) is None


def test_outside_the_program_window_nothing_is_bound(session, login, program):
    program(ends_at=NOW - timedelta(days=1))
    _, _, invitee, _ = invite(login, "mona", "nick")
    assert _referral_of(session, invitee["member"]["id"]) is None


def test_self_referral_by_the_same_wechat_identity(session, login, make_member):
    from app.wechat.sandbox import unionid_for

    me = make_member(unionid=unionid_for("olga"), referral_code="SELF0001")
    member, _ = login("olga", referral_code=me.referral_code)
    referral = _referral_of(session, member["member"]["id"])
    assert (referral.status, referral.reject_reason) == ("rejected", "self_referral")


def test_a_unionid_that_was_already_a_member(session, login, make_member):
    from app.wechat.sandbox import unionid_for

    make_member(unionid=unionid_for("pete"))  # pete, from another app, long ago
    referrer, _ = login("quin")
    member, _ = login("pete", referral_code=referrer["member"]["referral_code"])
    referral = _referral_of(session, member["member"]["id"])
    assert (referral.status, referral.reject_reason) == ("rejected", "already_member")


def test_a_phone_that_was_already_a_member(client, session, login, shop):
    from app.models import Member

    old, old_headers = login("rosa")
    bind_phone(client, old_headers, "13800000007")
    session.get(Member, old["member"]["id"]).phone = None  # the account was closed
    session.commit()
    _, referrer_headers, invitee, invitee_headers = invite(login, "sam", "rosa2")
    bind_phone(client, invitee_headers, "13800000007")
    shop(invitee["member"]["id"], 9000, "F-1")
    referral = _referral_of(session, invitee["member"]["id"])
    assert (referral.status, referral.reject_reason) == ("rejected", "already_member")


def test_cycles_are_refused(session, make_member):
    from app.services import referrals

    alice, bob = make_member(), make_member()
    first = referrals.bind_at_signup(session, bob, alice.referral_code, None)
    assert first.status == "bound"
    session.commit()
    # bob -> alice would close the loop alice -> bob -> alice.
    session.query(type(first)).filter_by(invitee_id=alice.id).delete()
    back = referrals.bind_at_signup(session, alice, bob.referral_code, None)
    assert (back.status, back.reject_reason) == ("rejected", "cycle")


def test_daily_cap(session, login, program):
    program(daily_cap=2, burst_max=100)
    referrer, _ = login("tina")
    code = referrer["member"]["referral_code"]
    statuses = []
    for name in ("u1", "u2", "u3"):
        member, _ = login(name, referral_code=code)
        referral = _referral_of(session, member["member"]["id"])
        statuses.append((referral.status, referral.reject_reason))
    assert statuses == [("bound", ""), ("bound", ""), ("rejected", "daily_cap")]
    clock.freeze(NOW + timedelta(days=1))
    member, _ = login("u4", referral_code=code)
    assert _referral_of(session, member["member"]["id"]).status == "bound"


def test_a_burst_is_flagged_for_review_not_paid(
    client, session, login, shop, program, make_staff, staff_headers
):
    program(burst_max=1, burst_window_minutes=60)
    referrer, referrer_headers = login("vera")
    code = referrer["member"]["referral_code"]
    first, first_headers = login("w1", referral_code=code)
    second, second_headers = login("w2", referral_code=code)
    assert not _referral_of(session, first["member"]["id"]).flagged
    flagged = _referral_of(session, second["member"]["id"])
    assert flagged.flagged
    for i, (member, headers) in enumerate(((first, first_headers), (second, second_headers))):
        bind_phone(client, headers, f"1390000000{i}")
        shop(member["member"]["id"], 9000, f"G-{i}")
    assert settle(NOW + timedelta(days=8))["granted"] == 2  # only the unflagged referral's
    marketer = staff_headers(make_staff("marketer"))
    waiting = client.get("/staff/v1/admin/referrals?flagged=true", headers=marketer).get_json()
    assert [r["id"] for r in waiting["items"]] == [flagged.id]
    reviewed = client.post(
        f"/staff/v1/admin/referrals/{flagged.id}/review", json={"approve": True}, headers=marketer
    )
    assert reviewed.status_code == 200
    assert settle(NOW + timedelta(days=9))["granted"] == 2
    assert ledger_invariants(session, referrer["member"]["id"]) == 200


def test_rejected_on_review(client, session, login, shop, program, make_staff, staff_headers):
    program(burst_max=1)
    referrer, _ = login("xena")
    code = referrer["member"]["referral_code"]
    login("y1", referral_code=code)
    second, second_headers = login("y2", referral_code=code)
    flagged = _referral_of(session, second["member"]["id"])
    bind_phone(client, second_headers, "13900000009")
    shop(second["member"]["id"], 9000, "H-1")
    response = client.post(
        f"/staff/v1/admin/referrals/{flagged.id}/review",
        json={"approve": False},
        headers=staff_headers(make_staff("marketer")),
    )
    assert response.get_json()["status"] == "rejected"
    assert settle(NOW + timedelta(days=8))["granted"] == 0


# ---- poster and program ------------------------------------------------------------------


def test_poster_code_is_a_png_generated_once(client, login):
    from app.extensions import get_redis, rkey

    _, headers = login("zoe")
    first = client.get("/api/v1/referrals/poster-code", headers=headers)
    second = client.get("/api/v1/referrals/poster-code", headers=headers)
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert first.data[:8] == b"\x89PNG\r\n\x1a\n" and first.data == second.data
    assert get_redis().hget(rkey("sandbox", "stats"), "getwxacodeunlimit") == "1"


def test_program_settings(client, make_staff, staff_headers):
    marketer, clerk = staff_headers(make_staff("marketer")), staff_headers(make_staff("clerk"))
    url = "/staff/v1/admin/programs/referral"
    assert client.get(url, headers=clerk).status_code == 403
    current = client.get(url, headers=marketer).get_json()
    assert current["min_purchase_fen"] == 5000
    changed = {**current, "min_purchase_fen": 8800, "ends_at": "2026-06-01T00:00:00+08:00"}
    saved = client.put(url, json=changed, headers=marketer)
    assert saved.status_code == 200, saved.get_json()
    ends_at = datetime.fromisoformat(saved.get_json()["ends_at"])
    assert ends_at == datetime(2026, 5, 31, 16, 0, tzinfo=UTC)
    assert client.get(url, headers=marketer).get_json()["min_purchase_fen"] == 8800
    bad = client.put(url, json={**changed, "daily_cap": -1}, headers=marketer)
    assert bad.status_code == 422


def test_a_reward_that_fails_does_not_hold_up_the_others(client, session, login, shop, monkeypatch):
    from app.services.referrals import referral_rewards

    first, _, first_invitee, first_headers = invite(login, "ada", "bea")
    second, _, second_invitee, second_headers = invite(login, "cid", "deb")
    for i, (invitee, headers) in enumerate(
        ((first_invitee, first_headers), (second_invitee, second_headers))
    ):
        bind_phone(client, headers, f"1370000000{i}")
        shop(invitee["member"]["id"], 9000, f"J-{i}")
    real_earn = referral_rewards.ledger.earn
    broken = first["member"]["id"]

    def earn(session_, member_id, *args, **kwargs):
        if member_id == broken:
            raise RuntimeError("ledger unavailable")
        return real_earn(session_, member_id, *args, **kwargs)

    monkeypatch.setattr(referral_rewards.ledger, "earn", earn)
    counts = settle(NOW + timedelta(days=8))
    assert (counts["granted"], counts["failed"]) == (3, 1)
    monkeypatch.setattr(referral_rewards.ledger, "earn", real_earn)
    assert settle(NOW + timedelta(days=9))["granted"] == 1  # retried on the next run
    assert ledger_invariants(session, broken) == 100
    assert ledger_invariants(session, second["member"]["id"]) == 100


def test_the_contract_paths_are_documented(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/coupons/available",
        "/api/v1/coupons/{template_id}/claims",
        "/api/v1/me/coupons",
        "/api/v1/lotteries",
        "/api/v1/lotteries/{lottery_id}/draws",
        "/api/v1/referrals",
        "/api/v1/referrals/poster-code",
        "/staff/v1/coupons/redemptions",
        "/staff/v1/coupons/redemptions/{redemption_id}/reversal",
        "/staff/v1/admin/coupon-templates",
        "/staff/v1/admin/coupon-templates/{template_id}/pushes",
        "/staff/v1/admin/lotteries",
        "/staff/v1/admin/lotteries/{lottery_id}/prizes",
        "/staff/v1/admin/programs/referral",
    ):
        assert path in paths, path
