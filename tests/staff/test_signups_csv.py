"""GET /staff/v1/reports/signups?format=csv: the report's rows as a file, with its access rules."""

from __future__ import annotations

import csv
import io

from tests.conftest import error_code
from tests.staff.test_signups import _plant

URL = "/staff/v1/reports/signups"
PERIOD = {"from": "2026-11-01", "to": "2026-11-02"}


def _rows(answer) -> list[list[str]]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))


def test_signups_csv_has_the_json_rows(
    client, session, make_store, make_staff, make_member, make_purchase, staff_headers
):
    planted = _plant(session, make_store, make_staff, make_member, make_purchase)
    marketer = staff_headers(make_staff("marketer"))
    query = {"group_by": "staff", **PERIOD}
    answer = client.get(URL, query_string={**query, "format": "csv"}, headers=marketer)
    assert answer.headers["Content-Disposition"] == (
        'attachment; filename="signups-staff-2026-11-01-2026-11-02.csv"'
    )
    rows = _rows(answer)
    clerk_a = planted["clerk_a"]
    assert rows[0] == [
        "key", "name", "staff_id", "store_id", "signups", "with_phone", "first_purchase_30d",
        "first_purchase_rate",
    ]  # fmt: skip
    assert rows[1] == [clerk_a.username, "", str(clerk_a.id), str(clerk_a.store_id), "3", "2", "1",
                       "0.3333"]  # fmt: skip
    json_rows = client.get(URL, query_string=query, headers=marketer).get_json()["rows"]
    assert [r[0] for r in rows[1:]] == [r["key"] or "" for r in json_rows]
    by_day = _rows(
        client.get(
            URL, query_string={**PERIOD, "group_by": "day", "format": "csv"}, headers=marketer
        )
    )
    assert [r[0] for r in by_day[1:]] == ["2026-11-01", "2026-11-02"]
    assert [r[4] for r in by_day[1:]] == ["2", "5"]


def test_a_managers_csv_is_their_store_only(
    client, session, make_store, make_staff, make_member, make_purchase, staff_headers
):
    planted = _plant(session, make_store, make_staff, make_member, make_purchase)
    manager = staff_headers(planted["manager_a"])
    rows = _rows(
        client.get(URL, query_string={**PERIOD, "group_by": "store", "format": "csv"},
                   headers=manager)
    )  # fmt: skip
    assert [r[0] for r in rows[1:]] == ["A"]
    other = client.get(
        URL,
        query_string={**PERIOD, "group_by": "store", "store_id": planted["b"].id, "format": "csv"},
        headers=manager,
    )
    assert other.status_code == 403 and error_code(other) == "auth.forbidden"
    clerk = client.get(URL, query_string={**PERIOD, "group_by": "store", "format": "csv"},
                       headers=staff_headers(planted["clerk_a"]))  # fmt: skip
    assert clerk.status_code == 403
