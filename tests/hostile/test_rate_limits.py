"""Rate limits on sign-in, scanning and drawing: 429 rate.limited with Retry-After, per caller.

(Staff sign-in per username and per address is covered in tests/staff/test_staff.py.)
"""

from __future__ import annotations

import pytest

from tests.conftest import error_code

pytest_plugins = ["tests.engagement_factories"]


def _assert_limited(response) -> None:
    assert response.status_code == 429, response.get_json()
    assert error_code(response) == "rate.limited"
    assert int(response.headers["Retry-After"]) > 0


def test_member_sign_in_is_limited_per_address(client):
    # Invalid bodies are answered fast and still count: a flood is a flood.
    statuses = [client.post("/api/v1/auth/login", json={"code": ""}).status_code for _ in range(60)]
    assert set(statuses) == {422}
    _assert_limited(client.post("/api/v1/auth/login", json={"code": "test:alice"}))
    other = client.post(
        "/api/v1/auth/login",
        json={"code": "test:alice"},
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert other.status_code == 200, "another address has its own allowance"


def test_behind_a_trusted_proxy_the_forwarded_address_is_limited(app, monkeypatch):
    from werkzeug.middleware.proxy_fix import ProxyFix

    monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_for=1))
    client = app.test_client()
    for _ in range(60):
        client.post("/api/v1/auth/login", json={"code": ""}, headers={"X-Forwarded-For": "1.2.3.4"})
    limited = client.post(
        "/api/v1/auth/login", json={"code": ""}, headers={"X-Forwarded-For": "1.2.3.4"}
    )
    _assert_limited(limited)
    # Shoppers behind the same proxy but from other addresses are not affected.
    fine = client.post(
        "/api/v1/auth/login", json={"code": ""}, headers={"X-Forwarded-For": "5.6.7.8"}
    )
    assert fine.status_code == 422


def test_scanning_is_limited_per_clerk(client, make_staff, staff_headers):
    clerk, colleague = make_staff("clerk"), make_staff("clerk")
    statuses = [
        client.post(
            "/staff/v1/scans",
            json={"member_code": "660000000000000000"},
            headers=staff_headers(clerk),
        ).status_code
        for _ in range(60)
    ]
    assert 429 not in statuses
    _assert_limited(
        client.post(
            "/staff/v1/scans",
            json={"member_code": "660000000000000000"},
            headers=staff_headers(clerk),
        )
    )
    other = client.post(
        "/staff/v1/scans",
        json={"member_code": "660000000000000000"},
        headers=staff_headers(colleague),
    )
    assert other.status_code != 429


@pytest.mark.parametrize("cost", [10])
def test_drawing_is_limited_per_member(
    client, session, make_member, member_headers, grant, make_lottery, cost
):
    from tests.conftest import ledger_invariants
    from tests.engagement_factories import NO_PRIZE

    lottery = make_lottery(NO_PRIZE, cost_points=cost, daily_draw_limit=100)
    member, other = make_member(), make_member()
    grant(member, 1_000)
    grant(other, 1_000)
    url = f"/api/v1/lotteries/{lottery.id}/draws"
    statuses = [client.post(url, headers=member_headers(member)).status_code for _ in range(20)]
    assert statuses == [201] * 20
    limited = client.post(url, headers=member_headers(member))
    _assert_limited(limited)
    # The refused tap cost nothing.
    assert ledger_invariants(session, member.id) == 1_000 - 20 * cost
    assert client.post(url, headers=member_headers(other)).status_code == 201
