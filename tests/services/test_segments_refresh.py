"""The nightly refresh: lifecycle stages, RFM figures and groups, kept stage dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app import clock
from app.models import Purchase
from app.models.segments import MemberSegment
from app.services import segments
from app.services.messaging import audiences
from app.services.segments import scoring, summaries

NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # noon in Shanghai
TODAY = date(2026, 6, 15)


@pytest.fixture
def shoppers(session, make_store, make_member):
    store = make_store()
    orders = iter(range(1, 1000))

    def member(name: str, joined_days_ago: int, purchases=(), refunded=()):
        m = make_member(store, nickname=name, joined_at=NOW - timedelta(days=joined_days_ago))
        for days_ago, amount in purchases:
            session.add(
                Purchase(
                    store_id=store.id,
                    order_no=f"o{next(orders)}",
                    member_id=m.id,
                    amount_fen=amount,
                    refunded_fen=amount if (days_ago, amount) in refunded else 0,
                    paid_at=NOW - timedelta(days=days_ago),
                )
            )
        session.commit()
        return m

    return {
        "fresh": member("fresh", 10),
        "regular": member("regular", 400, [(5, 20_000), (40, 20_000), (100, 20_000)]),
        "sleeper": member("sleeper", 400, [(120, 1_000)]),
        "gone": member("gone", 600, [(300, 100_000), (500, 5_000)]),
        "browser": member("browser", 100),
        "ghost": member("ghost", 400),
        # A purchase refunded in full is as if it never happened.
        "refunder": member("refunder", 400, [(3, 50_000), (200, 2_000)], refunded=[(3, 50_000)]),
    }


def _segment(session, member) -> MemberSegment:
    session.expire_all()
    return session.get(MemberSegment, member.id)


def test_stages_follow_the_thresholds(session, shoppers):
    counts = segments.refresh(session, NOW)
    stages = {name: _segment(session, m).lifecycle_stage for name, m in shoppers.items()}
    assert stages == {
        "fresh": "new",  # joined 10 days ago
        "regular": "active",  # bought 5 days ago
        "sleeper": "sleeping",  # last bought 120 days ago
        "gone": "lost",  # 300 days ago
        "browser": "sleeping",  # joined 100 days ago, never bought
        "ghost": "lost",  # joined 400 days ago, never bought
        "refunder": "lost",  # the refunded order does not count: last bought 200 days ago
    }
    assert counts["new"] == 1 and counts["active"] == 1 and counts["lost"] == 3
    assert counts["buyers"] == 4


def test_rfm_figures_scores_and_groups(session, shoppers):
    segments.refresh(session, NOW)
    regular = _segment(session, shoppers["regular"])
    assert (regular.recency_days, regular.frequency, regular.monetary_fen) == (5, 3, 60_000)
    gone = _segment(session, shoppers["gone"])
    # Only the window (365 days) counts for F and M; the 500-day-old order is outside.
    assert (gone.recency_days, gone.frequency, gone.monetary_fen) == (300, 1, 100_000)
    # Averages over the window's buyers: recency 155 days, 1.5 purchases, 40,500 fen.
    groups = {name: _segment(session, m).rfm_group for name, m in shoppers.items()}
    assert groups == {
        "fresh": None,
        "regular": "重要价值",  # recent, frequent, big spender
        "sleeper": "一般发展",  # more recent than average, once, small
        "gone": "重要挽留",  # long ago, once, but big: worth winning back
        "browser": None,
        "ghost": None,
        "refunder": "一般挽留",
    }
    # Quintile cut points: with only four buyers the scores used are 1..4, best last, and equal
    # figures score the same (three buyers bought once in the window: F = 1 for all three).
    assert (regular.r_score, regular.f_score, regular.m_score) == (4, 4, 3)
    assert _segment(session, shoppers["gone"]).m_score == 4
    assert {_segment(session, shoppers[n]).f_score for n in ("sleeper", "gone", "refunder")} == {1}
    for name in ("regular", "sleeper", "gone", "refunder"):
        seg = _segment(session, shoppers[name])
        assert 1 <= min(seg.r_score, seg.f_score, seg.m_score) <= 5
    assert _segment(session, shoppers["ghost"]).last_purchase_at is None
    assert _segment(session, shoppers["gone"]).last_purchase_at == NOW - timedelta(days=300)
    # Too few customers to fit the model: no odds rather than made-up ones.
    assert regular.p_alive is None


def test_stage_since_is_kept_until_the_stage_changes(session, shoppers):
    segments.refresh(session, NOW)
    assert _segment(session, shoppers["fresh"]).stage_since == TODAY - timedelta(days=10)
    assert _segment(session, shoppers["regular"]).stage_since == TODAY - timedelta(days=5)
    # Sleeping since the day after 90 days without buying.
    assert _segment(session, shoppers["sleeper"]).stage_since == TODAY - timedelta(days=29)
    later = NOW + timedelta(days=3)
    session.add(
        Purchase(
            store_id=shoppers["sleeper"].store_id,
            order_no="back",
            member_id=shoppers["sleeper"].id,
            amount_fen=500,
            paid_at=later - timedelta(hours=1),
        )
    )
    session.commit()
    segments.refresh(session, later)
    assert _segment(session, shoppers["regular"]).stage_since == TODAY - timedelta(days=5)
    sleeper = _segment(session, shoppers["sleeper"])
    assert (sleeper.lifecycle_stage, sleeper.stage_since) == ("active", TODAY + timedelta(days=3))
    assert _segment(session, shoppers["ghost"]).stage_since == segments_first_lost(session)
    # The audience filter reads the refreshed stages.
    assert audiences.count(session, {"lifecycle_stages": ["active"]}) == 2


def segments_first_lost(session):
    # ghost joined 400 days before NOW and never bought: lost since 181 days after joining.
    return TODAY - timedelta(days=400) + timedelta(days=181)


def test_thresholds_come_from_the_program_settings(session, shoppers, make_staff):
    from app.services import programs

    admin = make_staff("admin")
    programs.put_config(
        session,
        "segments",
        {"window_days": 730, "new_days": 7, "active_days": 150, "lost_days": 400},
        admin,
    )
    segments.refresh(session, NOW)
    assert _segment(session, shoppers["fresh"]).lifecycle_stage == "sleeping"
    assert _segment(session, shoppers["sleeper"]).lifecycle_stage == "active"
    assert _segment(session, shoppers["gone"]).lifecycle_stage == "sleeping"
    gone = _segment(session, shoppers["gone"])
    assert (gone.frequency, gone.monetary_fen) == (2, 105_000)


def test_model_odds_for_a_chain_with_enough_customers(session, make_store, make_member):
    """With enough buyers the model fits: regular recent buyers look alive, lapsed ones less."""
    store = make_store()
    n = 0
    for i in range(40):
        member = make_member(store, joined_at=NOW - timedelta(days=400))
        # Half buy every 1 to 6 weeks until now; half bought for a while a year ago, then stopped.
        start = 380 - i
        step, stop = (7 * (1 + i % 6), 0) if i % 2 == 0 else (5 + i % 9, 320 - 3 * i)
        for days_ago in range(start, stop, -step):
            n += 1
            session.add(
                Purchase(
                    store_id=store.id,
                    order_no=f"m{n}",
                    member_id=member.id,
                    amount_fen=1000,
                    paid_at=NOW - timedelta(days=days_ago),
                )
            )
    session.commit()
    counts = segments.refresh(session, NOW)
    assert counts["model"]["customers"] == 40
    rows = session.query(MemberSegment).order_by(MemberSegment.member_id).all()
    loyal = [r.p_alive for r in rows[0::2]]
    lapsed = [r.p_alive for r in rows[1::2]]
    assert min(loyal) > 0.9
    assert max(lapsed) < 0.5
    assert all(r.expected_purchases_90d is not None for r in rows)
    assert min(r.expected_purchases_90d for r in rows[0::2]) > max(
        r.expected_purchases_90d for r in rows[1::2]
    )


def test_a_failure_while_scoring_fails_the_refresh_and_keeps_last_nights_rows(
    session, shoppers, monkeypatch
):
    """The RFM cut points are computed in a thread beside the model fit: an error
    there must reach the job (and roll everything back), not vanish with the thread."""
    segments.refresh(session, NOW)
    before = {m.id: _segment(session, m).lifecycle_stage for m in shoppers.values()}

    def broken(connection):
        raise RuntimeError("scoring failed")

    monkeypatch.setattr(scoring, "rfm_cuts", broken)
    with pytest.raises(RuntimeError, match="scoring failed"):
        segments.refresh(session, NOW + timedelta(days=200))
    session.rollback()
    after = {m.id: _segment(session, m).lifecycle_stage for m in shoppers.values()}
    assert after == before
    assert _segment(session, shoppers["regular"]).computed_at == NOW


def _summaries(session) -> list:
    from sqlalchemy import text

    return session.execute(
        text(
            "SELECT member_id, frequency, monetary_fen, last_paid_at, first_day, last_day, n_days"
            " FROM member_purchase_summaries ORDER BY member_id"
        )
    ).all()


def _segments_table(session) -> list:
    session.expire_all()
    rows = session.query(MemberSegment).order_by(MemberSegment.member_id).all()
    return [
        (
            r.member_id,
            r.lifecycle_stage,
            r.stage_since,
            r.rfm_group,
            (r.r_score, r.f_score, r.m_score),
            (r.recency_days, r.frequency, r.monetary_fen),
            None if r.p_alive is None else round(r.p_alive, 6),
            None if r.expected_purchases_90d is None else round(r.expected_purchases_90d, 6),
            r.last_purchase_at,
        )
        for r in rows
    ]


def _changes(session) -> list[int]:
    from sqlalchemy import text

    return session.execute(text("SELECT member_id FROM segment_changes ORDER BY 1")).scalars().all()


def test_a_night_recomputes_only_the_members_that_moved_and_agrees_with_a_full_rebuild(
    session, make_store, make_member
):
    """Tonight's summaries are last night's brought forward: members whose purchases were added,
    refunded or backdated, and members whose purchases left the window, are recomputed; the result
    is exactly what rebuilding everything from the purchases gives."""
    store = make_store()
    n = iter(range(1, 100_000))

    def buy(member, paid_at, amount=1_000, refunded=0):
        purchase = Purchase(
            store_id=store.id,
            order_no=f"n{next(n)}",
            member_id=member.id,
            amount_fen=amount,
            refunded_fen=refunded,
            paid_at=paid_at,
        )
        session.add(purchase)
        return purchase

    people = [make_member(store, joined_at=NOW - timedelta(days=700)) for _ in range(30)]
    for i, member in enumerate(people):
        for k in range(i % 7):
            buy(member, NOW - timedelta(days=20 + 45 * k + i), 500 + 100 * i)
    # Two purchases on the window's first day (364 days ago), which leaves it tomorrow.
    edge = buy(
        people[3], clock.business_day_start(TODAY - timedelta(days=364)) + timedelta(hours=2)
    )
    leaving = clock.business_day_start(TODAY - timedelta(days=364))
    buy(people[4], leaving + timedelta(hours=3), 1_000, refunded=300)  # counts 700 fen
    buy(people[8], leaving + timedelta(hours=4), 500, refunded=500)  # never counted
    returning = buy(people[5], NOW - timedelta(days=2), 9_000)
    buy(people[9], NOW - timedelta(hours=1), 800)  # this morning, before the first refresh
    older = buy(people[11], NOW - timedelta(days=30), 2_500)
    session.commit()
    assert len(set(_changes(session))) == 25  # every buyer's purchases, logged
    first = segments.refresh(session, NOW)
    assert first["summaries_recomputed"] == "all"
    assert _changes(session) == []
    assert edge.member_id in {row.member_id for row in _summaries(session) if row.frequency > 0}

    later = NOW + timedelta(days=1)
    newcomer = make_member(store, joined_at=later - timedelta(hours=5))
    buy(newcomer, later - timedelta(hours=4), 3_000)  # bought today
    buy(people[6], later - timedelta(hours=1), 2_000)  # bought again today
    returning.refunded_fen = 9_000  # refunded in full
    buy(people[7], NOW - timedelta(days=100), 7_000)  # backdated (an import of old receipts)
    buy(people[9], NOW + timedelta(hours=2), 600)  # again the same day: still one day
    buy(people[10], later - timedelta(hours=3), 400, refunded=400)  # refunded at once
    # A sale today and a part refund of an older purchase: recomputed, not added to.
    buy(people[11], later - timedelta(hours=2), 1_500)
    older.refunded_fen = 1_000
    session.commit()
    night = segments.refresh(session, later)
    # New sales are added (people 6 and 9; people 10's was refunded in full: nothing to add);
    # the refunded, backdated and first purchases are recomputed; the two whose purchase only
    # left the window have it subtracted.
    assert night["summaries_new_sales"] == 2
    assert (night["summaries_recomputed"], night["summaries_out_of_window"]) == (4, 2)
    assert _changes(session) == []
    by_member = {row.member_id: row for row in _summaries(session)}
    # people[3]: four purchases, one of which has left the window (still in the history).
    assert (by_member[people[3].id].frequency, by_member[people[3].id].n_days) == (3, 4)
    assert by_member[newcomer.id].frequency == 1
    # people[9]: two earlier days, then twice today (once before the first refresh): 3 days.
    assert (by_member[people[9].id].frequency, by_member[people[9].id].n_days) == (4, 3)
    incremental = (_summaries(session), _segments_table(session))

    rebuilt = segments.refresh(session, later, full=True)
    assert rebuilt["summaries_recomputed"] == "all"
    assert (_summaries(session), _segments_table(session)) == incremental


def test_a_purchase_committed_while_the_refresh_runs_is_counted_the_next_night(
    app, session, shoppers, monkeypatch
):
    """The refresh deletes only the changes it read: one that a till commits meanwhile (here a
    backdated purchase, outside every time range the refresh looks at) waits for the next night."""
    from app.extensions import db

    segments.refresh(session, NOW)
    sleeper = shoppers["sleeper"]
    run_summary = summaries.run_summary

    def till_commits_meanwhile(*args, **kwargs):
        with db.engine.begin() as conn:
            conn.execute(
                Purchase.__table__.insert().values(
                    store_id=sleeper.store_id,
                    order_no="meanwhile",
                    member_id=sleeper.id,
                    source="till",
                    amount_fen=4_000,
                    refunded_fen=0,
                    items=1,
                    points_awarded=0,
                    points_reversed=0,
                    fingerprint="",
                    paid_at=NOW - timedelta(days=10),
                    created_at=NOW,
                )
            )
        monkeypatch.setattr(summaries, "run_summary", run_summary)
        return run_summary(*args, **kwargs)

    monkeypatch.setattr(summaries, "run_summary", till_commits_meanwhile)
    segments.refresh(session, NOW + timedelta(days=1))
    assert _segment(session, sleeper).frequency == 1  # not seen tonight ...
    assert _changes(session) == [sleeper.id]  # ... but still logged
    segments.refresh(session, NOW + timedelta(days=2))
    assert (_segment(session, sleeper).frequency, _segment(session, sleeper).recency_days) == (
        2,
        12,
    )
    assert _changes(session) == []


def test_a_member_whose_purchases_are_3000_days_apart_does_not_fail_the_night(
    session, make_store, make_member
):
    """Imported history (or a back-dated purchase) far from today's sales: the purchase pattern
    key holds t_x = 3,000 days (t_x * 2^20 is past 2^31), and the refresh still runs for
    everyone, with this member's figures and odds right. Issue 14, item 2."""
    store = make_store()
    n = iter(range(1, 10_000))

    def buy(member, days_ago, amount=1_000):
        session.add(
            Purchase(
                store_id=store.id,
                order_no=f"far{next(n)}",
                member_id=member.id,
                amount_fen=amount,
                paid_at=NOW - timedelta(days=days_ago),
            )
        )

    old_timer = make_member(store, joined_at=NOW - timedelta(days=3_100))
    buy(old_timer, 3_010, 5_000)
    buy(old_timer, 10, 7_000)
    # Enough other buyers for the model to fit, so the old timer's odds are looked up by key:
    # regulars, and some who stopped (without anyone seen to stop, the fit ends on a bound).
    for i in range(30):
        member = make_member(store, joined_at=NOW - timedelta(days=400))
        stop = 0 if i % 3 else 150 + 3 * i
        for days_ago in range(300 - i, stop, -(20 + i)):
            buy(member, days_ago)
    session.commit()

    counts = segments.refresh(session, NOW)

    assert counts["model_not_fitted"] is None, counts
    assert counts["model"]["customers"] == 31
    row = _segment(session, old_timer)
    assert (row.lifecycle_stage, row.recency_days) == ("active", 10)
    # Inside the 365-day window only the recent purchase counts.
    assert (row.frequency, row.monetary_fen) == (1, 7_000)
    # The key decodes to x = 1 repeat day, t_x = 3,000 days, T = 3,010 days.
    assert row.model_key == (1 << 40) + (3_000 << 20) + 3_010
    assert row.p_alive is not None and 0 < row.p_alive <= 1
    assert row.expected_purchases_90d is not None

    # The next night brings the summaries forward (a new sale) and still runs.
    buy(old_timer, -1, 2_000)  # paid tomorrow, before the next refresh
    session.commit()
    segments.refresh(session, NOW + timedelta(days=1))
    row = _segment(session, old_timer)
    assert (row.recency_days, row.frequency, row.monetary_fen) == (0, 2, 9_000)
    assert row.model_key == (2 << 40) + (3_011 << 20) + 3_011
