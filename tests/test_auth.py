"""Bearer tokens (app/auth.py): a validly signed token is only as good as who it names."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import delete

from app.auth import _MEMBER_SALT, _STAFF_SALT
from app.models import Member
from tests.conftest import error_code
from tests.engagement_factories import NO_PRIZE

pytest_plugins = ["tests.engagement_factories"]


def _signed(app, salt: str, payload: dict) -> dict:
    token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=salt).dumps(payload)
    return {"Authorization": f"Bearer {token}"}


def test_a_token_for_a_member_who_no_longer_exists_is_401(
    client, session, make_member, member_headers, make_template, make_lottery
):
    """A member row removed (or a token from another deployment with the same SECRET_KEY):
    every member endpoint answers 401, never 500 or a member code for nobody."""
    member = make_member()
    headers = member_headers(member)
    template = make_template()
    lottery = make_lottery(NO_PRIZE, cost_points=0)
    session.execute(delete(Member).where(Member.id == member.id))
    session.commit()
    for method, url in (
        ("GET", "/api/v1/me/member-code"),
        ("POST", f"/api/v1/coupons/{template.id}/claims"),
        ("POST", f"/api/v1/lotteries/{lottery.id}/draws"),
        ("POST", "/api/v1/checkins"),
        ("GET", "/api/v1/me"),
    ):
        answer = client.open(url, method=method, headers=headers)
        assert (answer.status_code, error_code(answer)) == (401, "auth.invalid_token"), url


@pytest.mark.parametrize("bad_id", [2**63, 2**64 + 5, -1, 0, True, "1", None, 1.0])
def test_a_signed_token_with_an_impossible_id_is_401(app, client, bad_id):
    member = client.get(
        "/api/v1/me/member-code", headers=_signed(app, _MEMBER_SALT, {"mid": bad_id})
    )
    assert (member.status_code, error_code(member)) == (401, "auth.invalid_token")
    staff = client.get("/staff/v1/members", headers=_signed(app, _STAFF_SALT, {"sid": bad_id}))
    assert (staff.status_code, error_code(staff)) == (401, "auth.invalid_token")
