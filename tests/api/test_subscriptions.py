"""POST /api/v1/subscriptions: each acceptance is one send; quotas answered."""

from __future__ import annotations

from tests.conftest import error_code


def test_each_acceptance_is_one_send(client, make_member, member_headers):
    member = make_member()
    headers = member_headers(member)
    first = client.post(
        "/api/v1/subscriptions",
        json={"accepted": ["tmpl-a", "tmpl-b"], "rejected": ["tmpl-c"]},
        headers=headers,
    )
    assert first.status_code == 200
    assert first.get_json() == {"quotas": {"tmpl-a": 1, "tmpl-b": 1, "tmpl-c": 0}}
    again = client.post("/api/v1/subscriptions", json={"accepted": ["tmpl-a"]}, headers=headers)
    assert again.get_json()["quotas"] == {"tmpl-a": 2, "tmpl-b": 1}
    # A retried request with the same Idempotency-Key is not a second acceptance.
    keyed = {**headers, "Idempotency-Key": "sub-1"}
    for _ in range(2):
        answer = client.post("/api/v1/subscriptions", json={"accepted": ["tmpl-b"]}, headers=keyed)
    assert answer.get_json()["quotas"]["tmpl-b"] == 2
    assert answer.headers.get("Idempotent-Replayed") == "true"


def test_bad_input_is_refused(client, make_member, member_headers):
    headers = member_headers(make_member())
    bad = client.post("/api/v1/subscriptions", json={"accepted": "tmpl-a"}, headers=headers)
    assert (bad.status_code, error_code(bad)) == (422, "request.invalid")
    assert client.post("/api/v1/subscriptions", json={"accepted": []}).status_code == 401
