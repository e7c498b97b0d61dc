"""The POS's keys and signed requests, over real HTTP."""

from __future__ import annotations

import json

import requests
from sqlalchemy import select

from app import clock
from app.models import AuditEntry, Staff
from app.models.pos import PosKey
from tests.pos.conftest import PosClient


def code(response) -> str:
    return response.json()["error"]["code"]


def test_a_key_is_made_once_and_its_secret_is_kept_encrypted(pos, session):
    key = session.execute(select(PosKey).where(PosKey.key_id == pos.key_id)).scalar_one()
    assert key.store_id == pos.store.id
    assert pos.secret not in key.secret_encrypted
    till = session.get(Staff, key.staff_id)
    assert (till.role, till.store_id, till.is_active) == ("clerk", pos.store.id, False)
    audit = session.execute(
        select(AuditEntry).where(AuditEntry.action == "pos_key.create")
    ).scalar_one()
    assert (audit.target_id, audit.store_id) == (pos.key_id, pos.store.id)


def test_the_key_list_never_shows_a_secret(client, pos, admin_headers):
    listed = client.get(f"/staff/v1/admin/stores/{pos.store.id}/pos-keys", headers=admin_headers)
    assert listed.status_code == 200
    assert [k["key_id"] for k in listed.get_json()["items"]] == [pos.key_id]
    assert "secret" not in json.dumps(listed.get_json())


def test_only_admins_make_keys(client, pos, make_staff, staff_headers):
    manager = make_staff("manager", store=pos.store)
    response = client.post(
        f"/staff/v1/admin/stores/{pos.store.id}/pos-keys", headers=staff_headers(manager)
    )
    assert response.status_code == 403


def test_a_good_signature_is_served(pos, make_member):
    member = make_member(phone="13800000001")
    response = pos.lookup(phone="13800000001")
    assert response.status_code == 200, response.text
    assert response.json()["member"]["id"] == member.id


def test_a_bad_signature_is_401(pos, make_member):
    make_member(phone="13800000001")
    wrong = pos.post("/pos/v1/members/lookup", {"phone": "13800000001"}, secret="not-it")
    assert wrong.status_code == 401 and code(wrong) == "pos.bad_signature"
    # The body signed is not the body sent.
    raw = json.dumps({"phone": "13800000001"}).encode()
    headers = pos.headers("POST", "/pos/v1/members/lookup", raw)
    tampered = requests.post(
        pos.base_url + "/pos/v1/members/lookup",
        data=json.dumps({"phone": "13800000002"}).encode(),
        headers=headers,
        timeout=10,
    )
    assert tampered.status_code == 401 and code(tampered) == "pos.bad_signature"
    unsigned = requests.post(
        pos.base_url + "/pos/v1/members/lookup", json={"phone": "13800000001"}, timeout=10
    )
    assert unsigned.status_code == 401 and code(unsigned) == "pos.bad_signature"
    unknown = PosClient(pos.base_url, "pk_nobody", pos.secret, pos.store).lookup(
        phone="13800000001"
    )
    assert unknown.status_code == 401 and code(unknown) == "pos.bad_signature"


def test_a_stale_timestamp_is_401(pos, make_member):
    make_member(phone="13800000001")
    now = int(clock.now().timestamp())
    late = pos.post("/pos/v1/members/lookup", {"phone": "13800000001"}, timestamp=now - 305)
    early = pos.post("/pos/v1/members/lookup", {"phone": "13800000001"}, timestamp=now + 305)
    for response in (late, early):
        assert response.status_code == 401 and code(response) == "pos.stale_timestamp"
    within = pos.post("/pos/v1/members/lookup", {"phone": "13800000001"}, timestamp=now - 250)
    assert within.status_code == 200


def test_a_replayed_nonce_is_401(pos, make_member):
    make_member(phone="13800000001")
    first = pos.post("/pos/v1/members/lookup", {"phone": "13800000001"}, nonce="n-1")
    again = pos.post("/pos/v1/members/lookup", {"phone": "13800000001"}, nonce="n-1")
    assert first.status_code == 200
    assert again.status_code == 401 and code(again) == "pos.replayed"


def test_a_refused_request_does_not_use_up_its_nonce(pos, make_member):
    make_member(phone="13800000001")
    now = int(clock.now().timestamp())
    forged = pos.post("/pos/v1/members/lookup", {"phone": "13800000001"}, nonce="n-2", secret="x")
    assert code(forged) == "pos.bad_signature"
    real = pos.post("/pos/v1/members/lookup", {"phone": "13800000001"}, nonce="n-2", timestamp=now)
    assert real.status_code == 200


def test_a_revoked_key_is_401_at_once(client, pos, admin_headers, make_member, session):
    make_member(phone="13800000001")
    path = f"/staff/v1/admin/stores/{pos.store.id}/pos-keys/{pos.key_id}"
    revoked = client.delete(path, headers=admin_headers)
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"] is not None
    assert client.delete(path, headers=admin_headers).status_code == 200  # twice: no change
    response = pos.lookup(phone="13800000001")
    assert response.status_code == 401 and code(response) == "pos.key_revoked"
    audits = session.execute(
        select(AuditEntry).where(AuditEntry.action == "pos_key.revoke")
    ).scalars()
    assert [a.target_id for a in audits] == [pos.key_id]


def test_another_stores_key_cannot_be_revoked_there(client, pos, make_store, admin_headers):
    other = make_store()
    response = client.delete(
        f"/staff/v1/admin/stores/{other.id}/pos-keys/{pos.key_id}", headers=admin_headers
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "pos_key.not_found"
