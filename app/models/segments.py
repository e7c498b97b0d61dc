"""Each member's segment as of the last nightly refresh: stage, RFM and the model's odds."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    Integer,
    String,
    event,
    select,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime

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


class SegmentModelValue(db.Model):
    """The BG/NBD model's figures for one purchase pattern (x, t_x, T in days), as of the last
    refresh; members point to theirs by `MemberSegment.model_key`. Rewritten with member_segments.
    """

    __tablename__ = "segment_model_values"

    # x * 2^40 + t_x * 2^20 + T, in days (services.segments.sql.model_key_sql).
    k: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    p_alive: Mapped[float] = mapped_column(Float)
    expected: Mapped[float | None] = mapped_column(Float)


class MemberSegment(db.Model):
    """One row per member, rewritten by the `segments_refresh` job (never by a request).

    Rewritten in full every night from the members table, so it has no foreign key and no index
    but its key: both cost the rewrite seconds per million rows, and every reader groups or
    filters a large share of the rows, which the planner answers with a scan anyway. The model's
    odds are in segment_model_values (written while these rows are, on another core), read here
    through `model_key`.
    """

    __tablename__ = "member_segments"
    __table_args__ = (
        CheckConstraint(
            "lifecycle_stage in ('new','active','sleeping','lost')", name="lifecycle_stage_known"
        ),
    )

    member_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
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
    # The member's purchase pattern in segment_model_values; NULL if they never bought.
    model_key: Mapped[int | None] = mapped_column(BigInteger)
    last_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # BG/NBD: probability the member is still a customer, purchases expected in the next 90 days
    # (None without a purchase, or with too few buyers to fit the model).
    p_alive: Mapped[float | None] = column_property(
        select(SegmentModelValue.p_alive)
        .where(SegmentModelValue.k == model_key)
        .correlate_except(SegmentModelValue)
        .scalar_subquery()
    )
    expected_purchases_90d: Mapped[float | None] = column_property(
        select(SegmentModelValue.expected)
        .where(SegmentModelValue.k == model_key)
        .correlate_except(SegmentModelValue)
        .scalar_subquery()
    )


class MemberPurchaseSummary(db.Model):
    """Per member who bought: what the refresh needs from the purchases (window figures, and the
    whole history's orders, first, second and last business day and distinct days). Kept by the
    refresh itself and brought forward each night (services.segments.summaries.update_summaries)."""

    __tablename__ = "member_purchase_summaries"

    member_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # Purchases and net money (fen) inside the RFM window.
    frequency: Mapped[int] = mapped_column(BigInteger)
    monetary_fen: Mapped[int] = mapped_column(BigInteger)
    last_paid_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Business day numbers (from 2000-01-01) over the whole history.
    first_day: Mapped[int] = mapped_column(Integer)
    last_day: Mapped[int] = mapped_column(Integer)
    n_days: Mapped[int] = mapped_column(Integer)
    # Orders over the whole history (one-time buyers: 1), and the business day number of the
    # second day with a purchase (NULL while there is one day only): what the segments report and
    # the repurchase figures read instead of the purchases.
    orders: Mapped[int] = mapped_column(BigInteger, server_default="0")
    second_day: Mapped[int | None] = mapped_column(Integer)


class SegmentChange(db.Model):
    """A member whose purchases changed since the last refresh: written by triggers on purchases
    in the same transaction as the change (tills, refunds, imports, hand-made fixes alike), and
    deleted by the refresh that took it into account."""

    __tablename__ = "segment_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(BigInteger)
    # Purchases inserted: the earliest payment time among them. NULL for an update or delete.
    paid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SegmentState(db.Model):
    """The one row saying what member_purchase_summaries are as of, and the last fitted model."""

    __tablename__ = "segment_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    business_tz: Mapped[str] = mapped_column(String(64))
    # The last fit's r, alpha, a, b: where tonight's fit starts (a few steps instead of dozens).
    model: Mapped[dict | None] = mapped_column(JSON)


class SegmentReport(db.Model):
    """The segments report as the last refresh computed it, for its default period (the 12
    months up to the refresh's business day): what `GET /staff/v1/admin/segments` answers
    without reading every member and purchase (services.segments.report). One row."""

    __tablename__ = "segment_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # {"chain": ..., "stores": [...]} as the report has them (JSON-able: no dates inside).
    figures: Mapped[dict] = mapped_column(JSON)


# The triggers that fill segment_changes. The migration that creates them holds the same text.
PURCHASE_TRIGGERS = (
    """
    CREATE OR REPLACE FUNCTION segment_changes_log() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO segment_changes (member_id, paid_from)
            SELECT member_id, MIN(paid_at) FROM new_rows GROUP BY member_id;
        ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO segment_changes (member_id) VALUES (OLD.member_id);
        ELSE
            INSERT INTO segment_changes (member_id) VALUES (NEW.member_id);
            IF OLD.member_id <> NEW.member_id THEN
                INSERT INTO segment_changes (member_id) VALUES (OLD.member_id);
            END IF;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    # Inserts per statement (an import inserts many rows at once), the rest per row.
    "CREATE OR REPLACE TRIGGER purchases_segment_insert AFTER INSERT ON purchases"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION segment_changes_log()",
    "CREATE OR REPLACE TRIGGER purchases_segment_update AFTER UPDATE ON purchases FOR EACH ROW"
    " WHEN (OLD.refunded_fen <> NEW.refunded_fen OR OLD.amount_fen <> NEW.amount_fen"
    " OR OLD.paid_at <> NEW.paid_at OR OLD.member_id <> NEW.member_id)"
    " EXECUTE FUNCTION segment_changes_log()",
    "CREATE OR REPLACE TRIGGER purchases_segment_delete AFTER DELETE ON purchases FOR EACH ROW"
    " EXECUTE FUNCTION segment_changes_log()",
)


@event.listens_for(db.metadata, "after_create")
def _create_purchase_triggers(target, connection, **kw) -> None:
    """Schemas made from the models (the tests) get the triggers the migrations create."""
    for statement in PURCHASE_TRIGGERS:
        connection.execute(text(statement))
