"""Each member's segment as of the last nightly refresh: stage, RFM and the model's odds."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import BigId, UTCDateTime

LIFECYCLE_STAGES = ("new", "active", "sleeping", "lost")
# The eight classic RFM groups, in the order marketing reads them: 重要 means high monetary value.
RFM_GROUPS = (
    "重要价值",
    "重要发展",
    "重要保持",
    "重要挽留",
    "一般价值",
    "一般发展",
    "一般保持",
    "一般挽留",
)


class MemberSegment(db.Model):
    """One row per member, rewritten by the `segments_refresh` job (never by a request).

    Rewritten in full every night from the members table, so it has no foreign key and no index
    but its key: both cost the rewrite seconds per million rows, and every reader groups or
    filters a large share of the rows, which the planner answers with a scan anyway.
    """

    __tablename__ = "member_segments"
    __table_args__ = (
        CheckConstraint(
            "lifecycle_stage in ('new','active','sleeping','lost')", name="lifecycle_stage_known"
        ),
    )

    member_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lifecycle_stage: Mapped[str] = mapped_column(String(16))
    # The business day the member entered this stage; kept while the stage does not change.
    stage_since: Mapped[date] = mapped_column(Date)
    # NULL when the member bought nothing inside the RFM window.
    rfm_group: Mapped[str | None] = mapped_column(String(8))
    r_score: Mapped[int | None] = mapped_column(Integer)
    f_score: Mapped[int | None] = mapped_column(Integer)
    m_score: Mapped[int | None] = mapped_column(Integer)
    recency_days: Mapped[int | None] = mapped_column(Integer)
    frequency: Mapped[int] = mapped_column(Integer, default=0)
    monetary_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # BG/NBD: probability the member is still a customer, purchases expected in the next 90 days.
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_purchases_90d: Mapped[float | None] = mapped_column(Float)
    last_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
