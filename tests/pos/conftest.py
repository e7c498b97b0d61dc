"""A POS over real HTTP: keys made through the admin endpoint, every request signed."""

from __future__ import annotations

import json
import secrets
import time

import pytest
import requests

from app.services.pos.signatures import sign


class PosClient:
    """Signs each request as a store's POS would (API.md, "The POS")."""

    def __init__(self, base_url: str, key_id: str, secret: str, store) -> None:
        self.base_url, self.key_id, self.secret, self.store = base_url, key_id, secret, store

    def headers(self, method, path, raw: bytes, *, timestamp=None, nonce=None, secret=None):
        # The POS's own clock (tests that freeze the service's clock send their own timestamp).
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(12)
        signature = sign(secret or self.secret, method, path, timestamp, nonce, raw)
        return {
            "Content-Type": "application/json",
            "X-Pos-Key": self.key_id,
            "X-Pos-Timestamp": timestamp,
            "X-Pos-Nonce": nonce,
            "X-Pos-Signature": signature,
        }

    def post(self, path, body, http=None, extra_headers=None, **signing) -> requests.Response:
        raw = json.dumps(body).encode()
        headers = {**self.headers("POST", path, raw, **signing), **(extra_headers or {})}
        return (http or requests).post(self.base_url + path, data=raw, headers=headers, timeout=30)

    def lookup(self, http=None, **ids):
        return self.post("/pos/v1/members/lookup", ids, http)

    def buy(self, order_no, amount_fen, http=None, **fields):
        body = {"order_no": order_no, "amount_fen": amount_fen, **fields}
        return self.post("/pos/v1/purchases", body, http)

    def refund(self, order_no, refund_no, amount_fen, http=None, **fields):
        body = {"refund_no": refund_no, "amount_fen": amount_fen, **fields}
        return self.post(f"/pos/v1/purchases/{order_no}/refunds", body, http)


@pytest.fixture
def admin_headers(make_staff, staff_headers):
    return staff_headers(make_staff("admin"))


@pytest.fixture
def pos_for(client, live_server, admin_headers):
    """A new POS key for a store, made by an admin through the endpoint."""

    def make(store) -> PosClient:
        response = client.post(f"/staff/v1/admin/stores/{store.id}/pos-keys", headers=admin_headers)
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        return PosClient(live_server, body["key_id"], body["secret"], store)

    return make


@pytest.fixture
def pos(make_store, pos_for):
    return pos_for(make_store())


@pytest.fixture
def member_code(client, member_headers):
    def get(member) -> str:
        return client.get("/api/v1/me/member-code", headers=member_headers(member)).get_json()[
            "code"
        ]

    return get
