"""The campaign report's statistics: Newcombe's interval for the purchase shares, Welch's for
spend, the window from the first message sent; no campaign scheduled in the past."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import update
from statsmodels.stats.proportion import proportion_confint

from app import clock
from app.models import Member, Purchase
from app.models.messaging import CampaignMember, OutboxMessage
from app.services.messaging import campaign_report, campaigns
from tests.conftest import error_code
from tests.staff.test_campaigns import SEND_AT, TEMPLATE, _body


def test_newcombes_interval_is_the_papers():
    """Newcombe (1998), Statistics in Medicine 17:873, table II, example (a): 56/70 − 48/80,
    method 10 (score, hybrid): 0.0524 to 0.3339."""
    low, high = campaign_report.share_interval(56, 70, 48, 80)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
    # Where the normal approximation leaves [-1, 1] or collapses to a point, it does not.
    low, high = campaign_report.share_interval(0, 10, 0, 12)
    assert -1 < low < 0 < high < 1
    low, high = campaign_report.share_interval(10, 10, 0, 10)
    assert 0 < low < high <= 1


def test_welchs_interval_is_scipys_on_the_raw_figures():
    rng = np.random.default_rng(18)
    treated, holdout = rng.exponential(3_000, 80), rng.exponential(2_000, 15)
    expected = stats.ttest_ind(treated, holdout, equal_var=False).confidence_interval(0.95)
    got = campaign_report.welch_interval(
        treated.mean() - holdout.mean(),
        treated.var(ddof=1),
        len(treated),
        holdout.var(ddof=1),
        len(holdout),
    )
    assert got == pytest.approx([expected.low, expected.high], rel=1e-9)
    assert campaign_report.welch_interval(1.0, 4.0, 1, 4.0, 10) is None  # one member: no variance


def test_the_window_starts_at_the_first_message_sent_not_the_send_time(
    session, make_store, make_member, make_staff
):
    clock.freeze(SEND_AT - timedelta(hours=1))
    store = make_store()
    members = [make_member(store) for _ in range(40)]
    campaign = campaigns.create(
        session, {"name": "late", "template": TEMPLATE, "send_at": SEND_AT}, make_staff("marketer")
    )
    campaigns.enqueue(session, campaign, SEND_AT)
    session.commit()
    assert campaign_report.report(session, campaign.id)["effect"] is None  # nothing sent yet
    first_sent = SEND_AT + timedelta(hours=5)  # the dispatcher was late
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign.id)
        .values(state="sent", sent_at=first_sent)
    )
    treated = session.scalars(
        CampaignMember.__table__.select()
        .with_only_columns(CampaignMember.member_id)
        .where(CampaignMember.campaign_id == campaign.id, CampaignMember.holdout.is_(False))
    ).all()
    assert treated and len(treated) < len(members)
    for n, member_id in enumerate(treated):
        # Half bought between the send time and the first message: not the campaign's doing.
        paid_at = SEND_AT + timedelta(hours=1) if n % 2 else first_sent + timedelta(hours=1)
        session.add(
            Purchase(
                store_id=store.id,
                order_no=f"w{n}",
                member_id=member_id,
                amount_fen=1_000,
                paid_at=paid_at,
            )
        )
    session.commit()
    effect = campaign_report.report(session, campaign.id)["effect"]
    assert effect["window_start"] == first_sent
    assert effect["treated"]["purchasers"] == (len(treated) + 1) // 2
    assert effect["intervals"] == {
        "purchase_share": "newcombe_hybrid_score",
        "spend_per_member": "welch_t",
    }


def test_a_campaign_cannot_be_scheduled_to_send_in_the_past(client, make_staff, staff_headers):
    marketer = staff_headers(make_staff("marketer"))
    clock.freeze(SEND_AT + timedelta(minutes=1))
    cid = client.post("/staff/v1/admin/campaigns", json=_body(), headers=marketer).get_json()["id"]
    refused = client.post(f"/staff/v1/admin/campaigns/{cid}/schedule", headers=marketer)
    assert refused.status_code == 422 and error_code(refused) == "request.invalid"
    assert "send_at" in refused.get_json()["error"]["details"]
    campaign = client.get(f"/staff/v1/admin/campaigns/{cid}", headers=marketer).get_json()
    assert campaign["status"] == "draft"  # nothing changed
    later = (SEND_AT + timedelta(days=1)).isoformat()
    client.patch(f"/staff/v1/admin/campaigns/{cid}", json={"send_at": later}, headers=marketer)
    fine = client.post(f"/staff/v1/admin/campaigns/{cid}/schedule", headers=marketer)
    assert fine.status_code == 200 and fine.get_json()["status"] == "scheduled"


def test_the_report_measures_the_promoted_category_with_newcombes_interval(
    client, session, make_store, make_member, make_staff, staff_headers, make_lined_purchase
):
    clock.freeze(SEND_AT - timedelta(hours=1))
    marketer = staff_headers(make_staff("marketer"))
    store = make_store()
    for _ in range(60):
        make_member(store)
    body = _body(promoted_category="母婴", holdout_share=0.5, report_days=7)
    created = client.post("/staff/v1/admin/campaigns", json=body, headers=marketer)
    assert created.status_code == 201 and created.get_json()["promoted_category"] == "母婴"
    campaign = campaigns.get(session, created.get_json()["id"])
    campaigns.enqueue(session, campaign, SEND_AT)
    first_sent = SEND_AT + timedelta(hours=2)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign.id)
        .values(state="sent", sent_at=first_sent)
    )
    groups = {True: [], False: []}
    for member_id, holdout in session.execute(
        CampaignMember.__table__.select()
        .with_only_columns(CampaignMember.member_id, CampaignMember.holdout)
        .where(CampaignMember.campaign_id == campaign.id)
        .order_by(CampaignMember.member_id)
    ):
        groups[holdout].append(member_id)
    treated, holdout = groups[False], groups[True]
    assert len(treated) >= 12 and len(holdout) >= 2
    members = {m.id: m for m in session.query(Member).filter(Member.id.in_(treated + holdout))}

    def buy(member_id, when, lines, refunded=False):
        make_lined_purchase(members[member_id], when, lines, refunded=refunded, store=store)

    inside = first_sent + timedelta(days=1)
    baby, milk = ("b1", "母婴", 9_900), ("m1", "乳品", 650)
    for member_id in treated[:6]:
        buy(member_id, inside, [baby])
    buy(treated[6], inside, [baby], refunded=True)  # the order refunded in full
    buy(treated[7], inside, [("b1", "母婴", 9_900, 9_900), milk])  # the baby line refunded in full
    buy(treated[8], SEND_AT + timedelta(hours=1), [baby])  # before the first message
    buy(treated[9], first_sent + timedelta(days=7), [baby])  # the window has ended
    buy(treated[10], inside, [milk])  # another category
    buy(treated[11], inside, [baby])
    buy(treated[11], inside + timedelta(hours=1), [baby])  # twice: one buyer
    for member_id in holdout[:2]:
        buy(member_id, inside, [baby])
    session.commit()

    answer = client.get(f"/staff/v1/admin/campaigns/{campaign.id}/report", headers=marketer)
    assert answer.status_code == 200, answer.get_json()
    promoted = answer.get_json()["effect"]["promoted_category"]
    n1, n0 = len(treated), len(holdout)
    assert promoted["category"] == "母婴"
    assert promoted["treated"] == {"members": n1, "buyers": 7, "share": 7 / n1}
    assert promoted["holdout"] == {"members": n0, "buyers": 2, "share": 2 / n0}
    assert promoted["share_difference"] == pytest.approx(7 / n1 - 2 / n0)
    # Newcombe's method 10 by hand from the two Wilson intervals.
    p1, p0 = 7 / n1, 2 / n0
    l1, u1 = proportion_confint(7, n1, method="wilson")
    l0, u0 = proportion_confint(2, n0, method="wilson")
    low = p1 - p0 - ((p1 - l1) ** 2 + (u0 - p0) ** 2) ** 0.5
    high = p1 - p0 + ((u1 - p1) ** 2 + (p0 - l0) ** 2) ** 0.5
    assert promoted["share_difference_ci95"] == pytest.approx([low, high], rel=1e-9)
    # Whole orders: treated[:6], [7], [10] and [11] bought something in the window.
    assert answer.get_json()["effect"]["treated"]["purchasers"] == 9

    # Without a promoted category there is no such figure; PATCH can set one while a draft.
    plain = client.post("/staff/v1/admin/campaigns", json=_body(), headers=marketer).get_json()
    assert plain["promoted_category"] is None
    patched = client.patch(
        f"/staff/v1/admin/campaigns/{plain['id']}",
        json={"promoted_category": "酒水"},
        headers=marketer,
    )
    assert patched.get_json()["promoted_category"] == "酒水"
    too_long = client.post(
        "/staff/v1/admin/campaigns", json=_body(promoted_category="x" * 65), headers=marketer
    )
    assert too_long.status_code == 422 and error_code(too_long) == "request.invalid"
    assert campaign_report.report(session, plain["id"])["effect"] is None  # never sent
