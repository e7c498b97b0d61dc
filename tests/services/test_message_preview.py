"""The console's message preview fills a template with a real member's values."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.errors import AppError
from app.services.messaging import console_choices

SPEC = {
    "template_id": "tmpl-expiry",
    "data": {
        "thing1": "{nickname}",
        "number2": "{expiring_points}",
        "date3": "{expires_on}",
    },
}


def test_preview_for_a_named_member_shows_their_expiring_points(session, make_member, grant):
    member = make_member(nickname="小王")
    grant(member, 120, expires_on=date(2026, 12, 31), now=datetime(2026, 11, 1, tzinfo=UTC))
    preview = console_choices.message_preview(
        session, SPEC, False, member.member_no, now=datetime(2026, 12, 20, 2, tzinfo=UTC)
    )
    assert preview["member"] == "小王"
    assert preview["data"]["number2"] == {"value": "120"}
    assert preview["data"]["date3"] == {"value": "2026年12月31日"}


def test_preview_for_an_unknown_member_is_404(session):
    with pytest.raises(AppError) as refused:
        console_choices.message_preview(session, SPEC, False, "000000000000")
    assert refused.value.status == 404
