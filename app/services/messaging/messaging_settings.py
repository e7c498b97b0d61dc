"""The messaging settings as marketing edits them (defaults live in services.outbox)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.models.staff import Staff
from app.services import programs
from app.services.messaging import message_templates, outbox


def current(session: Session) -> dict:
    return outbox.settings(session)


def replace(session: Session, settings: dict, staff: Staff) -> dict:
    """Save new settings; each template must satisfy WeChat's field rules whatever the member."""
    for purpose, spec in settings["templates"].items():
        for channel in ("subscribe", "oa"):
            if spec.get(channel):
                message_templates.check_template(
                    spec[channel], channel == "oa", f"templates.{purpose}.{channel}"
                )
    return programs.put_config(session, "messaging", settings, staff)
