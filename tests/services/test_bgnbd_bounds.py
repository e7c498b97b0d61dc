"""A BG/NBD fit that ends on a bound is no fit: reported with its reason, no odds stored, the
segments fall back to RFM alone (issue 18: a: 0.0, b: 22026.47 on 37 buyers printed as odds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import func, select

from app.models import Purchase
from app.models.segments import MemberSegment
from app.services import segments
from app.services.segments import bgnbd

NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)


def test_nobody_seen_to_drop_out_puts_a_and_b_on_their_bounds():
    """37 customers who each bought every week up to now: no drop-out is ever seen, so the
    likelihood keeps rising as a -> 0 and b -> infinity."""
    weeks = np.arange(10, 47, dtype=float)  # T: 10 .. 46 weeks, one customer each
    fit = bgnbd.fit(weeks - 1, weeks, weeks)
    assert fit.customers == 37
    assert fit.not_fitted is not None and "bound" in fit.not_fitted
    assert "a=" in fit.not_fitted or "b=" in fit.not_fitted


def test_a_fit_inside_its_bounds_is_a_fit():
    """Customers drawn from the model itself (r 0.5, alpha 5, a 0.8, b 2.5; 52 weeks): the fit
    is inside its bounds and near the truth."""
    rng = np.random.default_rng(18)
    n, weeks = 2_000, 52.0
    rate = rng.gamma(0.5, 1 / 5.0, n)
    drop = rng.beta(0.8, 2.5, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = rng.exponential(1 / rate[i])
        while t < weeks:
            x[i], t_x[i] = x[i] + 1, t
            if rng.uniform() < drop[i]:
                break
            t += rng.exponential(1 / rate[i])
    fit = bgnbd.fit(x, t_x, np.full(n, weeks))
    assert fit.not_fitted is None
    assert 0.3 < fit.r < 0.8 and 0.3 < fit.a < 2 and 1 < fit.b < 6


def test_the_refresh_reports_no_fit_and_keeps_rfm(session, make_store, make_member):
    store = make_store()
    orders = iter(range(1, 100_000))
    members = []
    for n in range(37):  # weekly buyers up to the refresh: a fit on its bounds
        member = make_member(store, joined_at=NOW - timedelta(days=400))
        members.append(member)
        for week in range(10 + n):
            session.add(
                Purchase(
                    store_id=store.id,
                    order_no=f"w{next(orders)}",
                    member_id=member.id,
                    amount_fen=1_000 + 10 * n,
                    paid_at=NOW - timedelta(days=7 * week + 1),
                )
            )
    session.commit()
    night = segments.refresh(session, NOW)
    assert night["model"] is None
    assert "bound" in night["model_not_fitted"]
    assert night["model_on_bound"]["customers"] == 37
    rows = session.execute(select(MemberSegment.p_alive, MemberSegment.rfm_group)).all()
    assert len(rows) == 37
    assert all(p_alive is None for p_alive, _ in rows)  # no odds from numbers that mean nothing
    assert all(group is not None for _, group in rows)  # RFM alone
    assert session.scalar(select(func.count()).select_from(Purchase)) > 0
