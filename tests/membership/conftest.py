from __future__ import annotations

import pytest
import requests


@pytest.fixture
def admin(make_staff, staff_headers):
    return staff_headers(make_staff("admin"))


@pytest.fixture
def make_plan(client, admin):
    def make(**fields) -> dict:
        body = {"name": "年卡", "price_fen": 12000, "months": 12, "multiplier": 1.5, **fields}
        response = client.post("/staff/v1/admin/membership-plans", json=body, headers=admin)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def shop(live_server, make_member, member_headers):
    """A member buying over real HTTP against the live server and its sandbox WeChat Pay."""

    class Shop:
        base = live_server

        def __init__(self) -> None:
            self.member = make_member()
            self.headers = member_headers(self.member)

        def buy(self, plan_id: int, **headers) -> dict:
            response = requests.post(
                f"{live_server}/api/v1/membership/orders",
                json={"plan_id": plan_id},
                headers={**self.headers, **headers},
                timeout=10,
            )
            assert response.status_code == 201, response.text
            return response.json()

        def pay(self, order_no: str, notify: bool = True) -> dict:
            response = requests.post(
                f"{live_server}/_sandbox/wechat/pay/{order_no}/pay",
                json={"notify": notify},
                timeout=10,
            )
            assert response.status_code == 200, response.text
            return response.json()

        def membership(self) -> dict:
            return requests.get(
                f"{live_server}/api/v1/me/membership", headers=self.headers, timeout=5
            ).json()

        def notify(self, headers: dict, body: str) -> requests.Response:
            return requests.post(
                f"{live_server}/wechat/pay/notify",
                data=body.encode(),
                headers={**headers, "Content-Type": "application/json"},
                timeout=10,
            )

    return Shop
