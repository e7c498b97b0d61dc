"""Campaigns: a push to an audience at a time, with a random holdout kept out to measure it."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import clock
from app.errors import AppError
from app.models.messaging import Campaign, CampaignMember, OutboxMessage
from app.models.staff import Staff
from app.services import pagination
from app.services.coupons import coupon_admin
from app.services.messaging import campaign_audience, message_templates
from app.services.staff import audit

EDITABLE = (
    "name",
    "audience",
    "channel",
    "template",
    "page",
    "send_at",
    "coupon_template_id",
    "promoted_category",
)
HOLDOUT_SCALE = 10_000  # holdout shares are kept in basis points
# A multiplicative hash of (member, campaign salt) modulo a prime: the same member always lands
# in the same bucket of a campaign, the buckets of different campaigns are unrelated, and it is
# plain integer arithmetic, so SQL and Python agree.
_HASH_MULT = 2654435761
_HASH_MOD = 4294967291


def holdout_bucket(member_id, salt: int):
    """The member's bucket, 0..9999: of an int in Python, or of a member_id column in SQL."""
    return ((member_id * _HASH_MULT + salt) % _HASH_MOD) % HOLDOUT_SCALE


def list_campaigns(session: Session, limit: int, cursor: int | None) -> pagination.Page:
    """Campaigns, newest first."""
    return pagination.page(session, select(Campaign), Campaign.id, limit, cursor)


def get(session: Session, campaign_id: int, lock: bool = False) -> Campaign:
    query = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        query = query.with_for_update()
    campaign = session.execute(query).scalar_one_or_none()
    if campaign is None:
        raise AppError("campaign.not_found")
    return campaign


def _apply(session: Session, campaign: Campaign, fields: dict) -> None:
    if "audience" in fields:
        fields["audience"] = campaign_audience.validate(session, fields["audience"] or {})
    # Sent with a template that is not there, every message would go without its coupon.
    coupon_admin.check_template_exists(session, fields.get("coupon_template_id"))
    for name in EDITABLE:
        if name in fields:
            setattr(campaign, name, fields[name])
    if "holdout_share" in fields:
        campaign.holdout_bp = round(fields["holdout_share"] * HOLDOUT_SCALE)
    if "report_days" in fields:
        campaign.report_days = fields["report_days"]


def create(session: Session, fields: dict, staff: Staff) -> Campaign:
    """A new campaign, as a draft: nothing is sent until it is scheduled."""
    campaign = Campaign(
        status="draft",
        holdout_salt=secrets.randbelow(2**31),
        created_by=staff.id,
        audience={},
        template={},
        page="",
        channel="auto",
    )
    _apply(session, campaign, dict(fields))
    session.add(campaign)
    session.flush()
    audit.record(
        session, staff, "campaign.create", "campaign", campaign.id, {"name": campaign.name}
    )
    session.commit()
    return campaign


def update_draft(session: Session, campaign_id: int, fields: dict, staff: Staff) -> Campaign:
    """Change a campaign while it is a draft (scheduled ones must be cancelled first)."""
    campaign = get(session, campaign_id, lock=True)
    if campaign.status != "draft":
        raise AppError(
            "campaign.not_editable", message=f"A {campaign.status} campaign is not edited."
        )
    _apply(session, campaign, dict(fields))
    audit.record(session, staff, "campaign.update", "campaign", campaign.id, {})
    session.commit()
    return campaign


def delete_draft(session: Session, campaign_id: int, staff: Staff) -> None:
    campaign = get(session, campaign_id, lock=True)
    if campaign.status != "draft":
        raise AppError("campaign.not_editable")
    session.delete(campaign)
    audit.record(session, staff, "campaign.delete", "campaign", campaign_id, {})
    session.commit()


def _check_sendable(campaign: Campaign) -> None:
    template = campaign.template or {}
    needed = {"auto": ("subscribe", "oa"), "subscribe": ("subscribe",), "oa": ("oa",)}
    wanted = [c for c in needed[campaign.channel] if template.get(c)]
    if not wanted:
        raise AppError(
            "message.invalid_template",
            message=f"The {campaign.channel} channel needs a template for it.",
            details={"template": {campaign.channel: "required"}},
        )
    for channel in wanted:
        message_templates.check_template(template[channel], channel == "oa", f"template.{channel}")
    if campaign.send_at is None:
        raise AppError(
            "request.invalid", message="Set send_at first.", details={"send_at": ["Required."]}
        )
    if campaign.send_at < clock.now():
        # Sent at once, its report would measure a window that began before the first message.
        raise AppError(
            "request.invalid",
            message="send_at is in the past.",
            details={"send_at": ["Must not be in the past."]},
        )


def schedule(session: Session, campaign_id: int, staff: Staff) -> Campaign:
    """Fix the campaign to go at its send time; its template is checked against WeChat's rules."""
    campaign = get(session, campaign_id, lock=True)
    if campaign.status != "draft":
        raise AppError("campaign.not_draft", message=f"The campaign is already {campaign.status}.")
    _check_sendable(campaign)
    campaign.status = "scheduled"
    audit.record(session, staff, "campaign.schedule", "campaign", campaign.id, {})
    session.commit()
    return campaign


def cancel(session: Session, campaign_id: int, staff: Staff, now: datetime | None = None):
    """Stop the campaign: messages not yet sent are dropped; sent ones stay in the report."""
    now = now or clock.now()
    campaign = get(session, campaign_id, lock=True)
    if campaign.status in ("sent", "cancelled"):
        raise AppError(
            "campaign.not_cancellable", message=f"The campaign is already {campaign.status}."
        )
    campaign.status, campaign.cancelled_at = "cancelled", now
    dropped = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.campaign_id == campaign.id,
            OutboxMessage.state.in_(("pending", "claimed")),
        )
        .values(state="cancelled", finished_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    audit.record(session, staff, "campaign.cancel", "campaign", campaign.id, {"dropped": dropped})
    session.commit()
    return campaign


def _insert_from_select(session: Session, model, names: list[str], query, conflict: list[str]):
    stmt = insert(model.__table__).from_select(names, query)
    return session.execute(stmt.on_conflict_do_nothing(index_elements=conflict))


def enqueue(session: Session, campaign: Campaign, now: datetime) -> dict:
    """Target the audience and queue one message per treated member, set-based, in one go.

    Members whose bucket falls under the holdout share are recorded as held out and get nothing.
    """
    members = campaign_audience.member_ids_query(session, campaign.audience or {}).subquery()
    member_id = members.c[0]
    targets = select(
        literal(campaign.id).label("campaign_id"),
        member_id,
        (holdout_bucket(member_id, campaign.holdout_salt) < campaign.holdout_bp).label("holdout"),
    ).where(member_id.is_not(None))
    _insert_from_select(
        session,
        CampaignMember,
        ["campaign_id", "member_id", "holdout"],
        targets,
        ["campaign_id", "member_id"],
    )
    cm = CampaignMember
    treated = select(
        literal("campaign"),
        cm.member_id,
        literal(str(campaign.id)),
        literal(campaign.id),
        literal(True),
        literal("pending"),
        literal(max(campaign.send_at or now, now), OutboxMessage.not_before.type),
        literal(0),
        literal(False),
        literal(now, OutboxMessage.created_at.type),
    ).where(cm.campaign_id == campaign.id, cm.holdout.is_(False))
    _insert_from_select(
        session,
        OutboxMessage,
        [
            "purpose",
            "member_id",
            "dedupe_key",
            "campaign_id",
            "marketing",
            "state",
            "not_before",
            "attempts",
            "cap_taken",
            "created_at",
        ],
        treated,
        ["purpose", "member_id", "dedupe_key"],
    )
    counts = dict(
        session.execute(
            select(cm.holdout, func.count())
            .where(cm.campaign_id == campaign.id)
            .group_by(cm.holdout)
        ).all()
    )
    campaign.held_out = int(counts.get(True, 0))
    campaign.targeted = campaign.held_out + int(counts.get(False, 0))
    campaign.enqueued_at = now
    return {"targeted": campaign.targeted, "held_out": campaign.held_out}


def enqueue_due(session: Session, now: datetime) -> dict:
    """Queue every scheduled campaign whose time has come; close those fully sent."""
    due = (
        session.execute(
            select(Campaign.id).where(Campaign.status == "scheduled", Campaign.send_at <= now)
        )
        .scalars()
        .all()
    )
    queued = 0
    for campaign_id in due:
        campaign = session.execute(
            select(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == "scheduled")
            .with_for_update()
        ).scalar_one_or_none()
        if campaign is None:
            continue
        campaign.status = "sending"
        queued += enqueue(session, campaign, now)["targeted"]
        session.commit()
    open_states = ("pending", "claimed", "sending")
    sending = session.execute(select(Campaign.id).where(Campaign.status == "sending")).scalars()
    closed = 0
    for campaign_id in list(sending):
        left = session.execute(
            select(OutboxMessage.id)
            .where(OutboxMessage.campaign_id == campaign_id, OutboxMessage.state.in_(open_states))
            .limit(1)
        ).first()
        if left is None:
            session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.status == "sending")
                .values(status="sent")
            )
            closed += 1
    session.commit()
    return {"campaigns_started": len(due), "targeted": queued, "campaigns_done": closed}
