"""Stores and staff grow the membership: staff codes, invite codes (the sandbox WeChat over real
HTTP), sign-ups credited to a staff member and a store, the sign-up report, and members found
by their purchases at a store."""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime, timedelta

import requests
import segno
from sqlalchemy import select, text

from app import clock
from app.extensions import get_redis, rkey
from app.models import Member, Staff
from app.models.messaging import OaFollower, OaQrCode
from app.models.referrals import MemberIdentity
from app.services.identifiers import CROCKFORD
from app.services.members import account_closure
from app.services.signups.invite_codes import INVITE_PAGE, qr_png
from app.wechat.png import pattern_png
from tests.concurrency import fire
from tests.conftest import error_code
from tests.wechat import test_oa_callback

_event = test_oa_callback._event
# The official account posting to /wechat/oa as WeChat would (plain mode).
oa, oa_plain = test_oa_callback.oa, test_oa_callback.oa_plain

PNG = b"\x89PNG\r\n\x1a\n"


def _sandbox(live_server: str, path: str, **params) -> dict:
    return requests.get(live_server + "/_sandbox/wechat" + path, params=params, timeout=5).json()


# ---- staff codes ----------------------------------------------------------------------------


def test_every_staff_member_has_a_short_unique_stable_code(client, make_staff, staff_headers):
    clerk, manager = make_staff("clerk"), make_staff("manager")
    answer = client.get("/staff/v1/me", headers=staff_headers(clerk))
    assert answer.status_code == 200
    staff = answer.get_json()["staff"]
    assert staff == {
        "id": clerk.id,
        "username": clerk.username,
        "role": "clerk",
        "store_id": clerk.store_id,
        "staff_code": clerk.staff_code,
        "display_name": "",
        "is_active": True,
        "created_at": staff["created_at"],
    }
    assert len(clerk.staff_code) == 6 and set(clerk.staff_code) <= set(CROCKFORD)
    assert clerk.staff_code != manager.staff_code
    again = client.get("/staff/v1/me", headers=staff_headers(clerk)).get_json()["staff"]
    assert again["staff_code"] == clerk.staff_code
    assert client.get("/staff/v1/me").status_code == 401


def test_staff_created_by_an_admin_get_a_code(client, make_staff, make_store, staff_headers):
    admin, store = make_staff("admin"), make_store()
    answer = client.post(
        "/staff/v1/admin/staff",
        json={
            "username": "newclerk",
            "password": "long-enough-1",
            "role": "clerk",
            "store_id": store.id,
        },
        headers=staff_headers(admin),
    )
    assert answer.status_code == 201
    code = answer.get_json()["staff_code"]
    assert len(code) == 6 and set(code) <= set(CROCKFORD)


# ---- invite codes ---------------------------------------------------------------------------


def test_miniapp_invite_code_is_a_png_carrying_the_staff_code(
    client, make_staff, staff_headers, live_server
):
    clerk = make_staff("clerk")
    answer = client.get("/staff/v1/me/invite-code?kind=miniapp", headers=staff_headers(clerk))
    assert answer.status_code == 200
    assert answer.mimetype == "image/png" and answer.data.startswith(PNG)
    # The sandbox draws the scene it was asked for: s=<staff code> on the invite page.
    assert answer.data == pattern_png(f"{INVITE_PAGE}|s={clerk.staff_code}")
    again = client.get("/staff/v1/me/invite-code?kind=miniapp", headers=staff_headers(clerk))
    assert again.data == answer.data
    assert _sandbox(live_server, "/stats")["getwxacodeunlimit"] == 1  # made once
    store_code = client.get(
        "/staff/v1/me/invite-code?kind=miniapp&for=store", headers=staff_headers(clerk)
    )
    assert store_code.data == pattern_png(f"{INVITE_PAGE}|st={clerk.store_id}")


def _qr_modules(png: bytes) -> list[list[bool]]:
    """The dark modules of a QR code PNG as segno writes it (1-bit greyscale, no interlace):
    decoded here with zlib, so the test reads the image, not the code that drew it."""
    assert png.startswith(PNG)
    pos, data, width = 8, b"", 0
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, depth, colour = int.from_bytes(body[:4], "big"), body[8], body[9]
            assert (depth, colour, body[12]) == (1, 0, 0)
        elif kind == b"IDAT":
            data += body
        pos += 12 + length
    raw, stride = zlib.decompress(data), (width + 7) // 8 + 1
    rows, previous = [], bytes(stride - 1)
    for y in range(width):
        kind, line = raw[y * stride], bytearray(raw[y * stride + 1 : (y + 1) * stride])
        for i in range(len(line)):  # PNG's filters, one byte a pixel group (bit depth 1)
            left, up = line[i - 1] if i else 0, previous[i]
            corner = previous[i - 1] if i else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                best = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + best) & 255
        previous = bytes(line)
        rows.append([not (line[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
    scale, border = 12, 4
    modules = width // scale - 2 * border
    return [
        [rows[(border + j) * scale][(border + i) * scale] for i in range(modules)]
        for j in range(modules)
    ]


def test_oa_invite_code_is_a_permanent_qr_code_made_once(
    client, session, make_staff, staff_headers, live_server
):
    clerk = make_staff("clerk")
    answer = client.get("/staff/v1/me/invite-code?kind=oa", headers=staff_headers(clerk))
    assert answer.status_code == 200, answer.get_json()
    assert answer.mimetype == "image/png" and answer.data.startswith(PNG)
    scene = f"staff_{clerk.staff_code}"
    stored = session.get(OaQrCode, scene)
    assert _sandbox(live_server, "/qr-scene", ticket=stored.ticket)["scene"] == scene
    # The image is drawn here: the QR code of the url qrcode/create answered (what WeChat's own
    # image carries), with no call to showqrcode.
    assert stored.url.startswith("http://weixin.qq.com/q/")
    expected = segno.make(stored.url, error="m", micro=False).matrix
    assert _qr_modules(answer.data) == [[bool(m) for m in row] for row in expected]
    again = client.get("/staff/v1/me/invite-code?kind=oa", headers=staff_headers(clerk))
    assert again.data == answer.data
    stats = _sandbox(live_server, "/stats")
    assert (stats["qrcode_create"], stats.get("showqrcode", 0)) == (1, 0)
    # The image cache gone (a Redis flush), the ticket is kept: no call to WeChat at all.
    get_redis().delete(rkey("invite", "oa", stored.ticket))
    assert client.get("/staff/v1/me/invite-code?kind=oa", headers=staff_headers(clerk)).data == (
        answer.data
    )
    stats = _sandbox(live_server, "/stats")
    assert (stats["qrcode_create"], stats.get("showqrcode", 0)) == (1, 0)
    store_code = client.get(
        "/staff/v1/me/invite-code?kind=oa&for=store", headers=staff_headers(clerk)
    )
    store_url = session.get(OaQrCode, f"store_{clerk.store_id}").url
    assert store_code.data == qr_png(store_url) != answer.data


def test_an_oa_code_kept_without_its_url_is_fetched_from_showqrcode(
    client, session, make_staff, staff_headers, live_server
):
    clerk = make_staff("clerk")
    client.get("/staff/v1/me/invite-code?kind=oa", headers=staff_headers(clerk))
    scene = f"staff_{clerk.staff_code}"
    stored = session.get(OaQrCode, scene)
    stored.url = ""
    session.commit()
    get_redis().delete(rkey("invite", "oa", stored.ticket))
    answer = client.get("/staff/v1/me/invite-code?kind=oa", headers=staff_headers(clerk))
    assert answer.status_code == 200 and answer.data == pattern_png(f"oa|{scene}")
    assert _sandbox(live_server, "/stats")["showqrcode"] == 1


def test_invite_code_refusals(client, make_staff, staff_headers, live_server):
    clerk, marketer = make_staff("clerk"), make_staff("marketer")
    bad = client.get("/staff/v1/me/invite-code?kind=poster", headers=staff_headers(clerk))
    assert (bad.status_code, error_code(bad)) == (422, "request.invalid")
    none = client.get("/staff/v1/me/invite-code", headers=staff_headers(clerk))
    assert none.status_code == 422
    # A marketer has no store: no store code, but a code of their own.
    store = client.get(
        "/staff/v1/me/invite-code?kind=oa&for=store", headers=staff_headers(marketer)
    )
    assert (store.status_code, error_code(store)) == (403, "staff.store_required")
    assert (
        client.get("/staff/v1/me/invite-code?kind=oa", headers=staff_headers(marketer)).status_code
        == 200
    )
    # WeChat refusing is a 502 with WeChat's code, never a 500.
    requests.post(
        live_server + "/_sandbox/wechat/faults",
        json={"api": "qrcode_create", "errcode": 45009},
        timeout=5,
    )
    refused = client.get("/staff/v1/me/invite-code?kind=oa", headers=staff_headers(clerk))
    assert (refused.status_code, error_code(refused)) == (502, "wechat.error")


# ---- sign-ups credited ----------------------------------------------------------------------


def test_sign_up_with_a_staff_code_is_credited_once(client, session, make_staff, make_store):
    clerk = make_staff("clerk")
    other_store = make_store()
    # Typed by hand: lower case is read as the code.
    body = {"code": "test:dora", "staff_code": clerk.staff_code.lower(), "store_id": other_store.id}
    first = client.post("/api/v1/auth/login", json=body).get_json()
    assert first["is_new"] is True
    assert first["signed_up_by"] == {"staff_id": clerk.id, "store_id": clerk.store_id}
    assert first["member"]["store_id"] == clerk.store_id  # the clerk's store, not the QR's
    # Signing in again through another staff member's code re-credits nothing.
    manager = make_staff("manager")
    again = client.post(
        "/api/v1/auth/login", json={"code": "test:dora", "staff_code": manager.staff_code}
    ).get_json()
    assert again["is_new"] is False
    assert again["signed_up_by"] == {"staff_id": clerk.id, "store_id": clerk.store_id}
    member = session.get(Member, first["member"]["id"])
    assert (member.signed_up_by_staff_id, member.store_id) == (clerk.id, clerk.store_id)


def test_unknown_or_deactivated_staff_code_signs_up_uncredited(client, session, make_staff):
    answer = client.post("/api/v1/auth/login", json={"code": "test:eve", "staff_code": "ZZZZZZ"})
    assert answer.status_code == 200
    assert (answer.get_json()["is_new"], answer.get_json()["signed_up_by"]) == (True, None)
    odd = client.post("/api/v1/auth/login", json={"code": "test:fay", "staff_code": "%%é"})
    assert (odd.status_code, odd.get_json()["signed_up_by"]) == (200, None)
    gone = make_staff("clerk")
    session.execute(Staff.__table__.update().where(Staff.id == gone.id).values(is_active=False))
    session.commit()
    left = client.post(
        "/api/v1/auth/login", json={"code": "test:gus", "staff_code": gone.staff_code}
    )
    assert left.get_json()["signed_up_by"] is None
    too_long = client.post("/api/v1/auth/login", json={"code": "test:hal", "staff_code": "X" * 17})
    assert (too_long.status_code, error_code(too_long)) == (422, "request.invalid")


def test_a_chain_staff_code_leaves_the_store_to_the_sign_in(client, make_staff, make_store):
    marketer, store = make_staff("marketer"), make_store()
    answer = client.post(
        "/api/v1/auth/login",
        json={"code": "test:ivy", "staff_code": marketer.staff_code, "store_id": store.id},
    ).get_json()
    assert answer["signed_up_by"] == {"staff_id": marketer.id, "store_id": store.id}


def test_oa_follow_through_a_staff_qr_then_sign_up_is_credited_by_unionid(
    client,
    session,
    oa_plain,
    make_staff,
    live_server,
):
    clerk = make_staff("clerk")
    who = _sandbox(live_server, "/oa-openid", name="carol")
    now = int(clock.now().timestamp())
    scene = f"staff_{clerk.staff_code}"
    assert (
        oa_plain.post(_event(who["openid"], "subscribe", now, f"qrscene_{scene}")).status_code
        == 200
    )
    follower = session.get(OaFollower, who["openid"])
    assert (follower.staff_id, follower.store_id, follower.unionid) == (
        clerk.id,
        clerk.store_id,
        who["unionid"],
    )
    # Days later, the same person opens the mini-program: no staff code, credited all the same.
    answer = client.post("/api/v1/auth/login", json={"code": "test:carol"}).get_json()
    assert answer["is_new"] is True
    assert answer["signed_up_by"] == {"staff_id": clerk.id, "store_id": clerk.store_id}


def test_a_staff_code_in_the_sign_in_wins_over_an_earlier_follow(
    client,
    session,
    oa_plain,
    make_staff,
    make_store,
    live_server,
):
    store, clerk = make_store(), make_staff("clerk")
    who = _sandbox(live_server, "/oa-openid", name="dan")
    now = int(clock.now().timestamp())
    oa_plain.post(_event(who["openid"], "subscribe", now, f"qrscene_store_{store.id}"))
    by_store = client.post("/api/v1/auth/login", json={"code": "test:dan"}).get_json()
    assert by_store["signed_up_by"] == {"staff_id": None, "store_id": store.id}
    who = _sandbox(live_server, "/oa-openid", name="eli")
    oa_plain.post(_event(who["openid"], "subscribe", now + 1, f"qrscene_store_{store.id}"))
    by_staff = client.post(
        "/api/v1/auth/login", json={"code": "test:eli", "staff_code": clerk.staff_code}
    ).get_json()
    assert by_staff["signed_up_by"] == {"staff_id": clerk.id, "store_id": clerk.store_id}


# ---- the sign-up report ---------------------------------------------------------------------

SH = timedelta(hours=8)  # Asia/Shanghai


def _at(day: date, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    """An instant of a business day (Shanghai local time), in UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC) - SH


D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


def _plant(session, make_store, make_staff, make_member, buy):
    """Two stores, three staff, members signed up on 1 and 2 November 2026 (Shanghai)."""
    a, b = make_store(code="A"), make_store(code="B")
    clerk_a, manager_a = make_staff("clerk", store=a), make_staff("manager", store=a)
    clerk_b = make_staff("clerk", store=b)

    def member(store, staff, joined, phone=None):
        return make_member(
            store=store,
            signed_up_by_staff_id=staff.id if staff else None,
            joined_at=joined,
            phone=phone,
        )

    # Store A, clerk A: 3 sign-ups; 2 with a phone; 1 bought within 30 days.
    m1 = member(a, clerk_a, _at(D1, 10), "13800000001")
    m2 = member(a, clerk_a, _at(D1, 23, 59, 59), "13800000002")  # last second of 1 Nov
    m3 = member(a, clerk_a, _at(D2, 0, 0, 0))  # first second of 2 Nov (16:00 UTC on 1 Nov)
    buy(m1, a, _at(D1, 11))  # within 30 days
    buy(m2, b, _at(D1, 23, 59, 59) + timedelta(days=30))  # 30 days on: too late
    buy(m3, a, _at(D2, 9), amount_fen=500, refunded_fen=500)  # fully refunded: not counted
    # Store A, no staff (the store's own QR): 1 sign-up, bought at store B on day 29.
    m4 = member(a, None, _at(D2, 8))
    buy(m4, b, _at(D2, 8) + timedelta(days=29))
    # Store B, clerk B: 2 sign-ups; one closed its account after binding a phone and buying.
    m5 = member(b, clerk_b, _at(D2, 15), "13800000005")
    session.add(MemberIdentity(kind="phone", digest="d" * 64, member_id=m5.id))
    session.commit()
    buy(m5, b, _at(D2, 16), amount_fen=2000, refunded_fen=100)  # partly refunded: counts
    account_closure.close_account(session, m5.id)
    session.commit()
    member(b, clerk_b, _at(D2, 18))
    # Outside the period: the day before, in Shanghai (23:59:59 on 31 October).
    member(a, clerk_a, _at(D1, 0) - timedelta(seconds=1), "13800000009")
    # No store, no staff: a plain sign-up.
    member(None, None, _at(D2, 20))
    return {"a": a, "b": b, "clerk_a": clerk_a, "manager_a": manager_a, "clerk_b": clerk_b}


def _report(client, headers, **query):
    answer = client.get("/staff/v1/reports/signups", query_string=query, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def _figures(rows) -> dict:
    return {
        r["key"]: (r["signups"], r["with_phone"], r["first_purchase_30d"], r["first_purchase_rate"])
        for r in rows
    }


def test_signup_report_figures_for_each_grouping(
    client, session, make_store, make_staff, make_member, make_purchase, staff_headers
):
    planted = _plant(session, make_store, make_staff, make_member, make_purchase)
    marketer = make_staff("marketer")
    period = {"from": "2026-11-01", "to": "2026-11-02"}
    by_staff = _report(client, staff_headers(marketer), group_by="staff", **period)
    assert _figures(by_staff["rows"]) == {
        planted["clerk_a"].username: (3, 2, 1, 0.3333),
        planted["clerk_b"].username: (2, 1, 1, 0.5),
        None: (2, 0, 1, 0.5),
    }
    row = next(r for r in by_staff["rows"] if r["key"] == planted["clerk_a"].username)
    assert (row["staff_id"], row["store_id"]) == (planted["clerk_a"].id, planted["a"].id)
    by_store = _report(client, staff_headers(marketer), group_by="store", **period)
    assert _figures(by_store["rows"]) == {
        "A": (4, 2, 2, 0.5),
        "B": (2, 1, 1, 0.5),
        None: (1, 0, 0, 0.0),
    }
    by_day = _report(client, staff_headers(marketer), group_by="day", **period)
    assert _figures(by_day["rows"]) == {
        "2026-11-01": (2, 2, 1, 0.5),
        "2026-11-02": (5, 1, 2, 0.4),
    }
    assert [r["key"] for r in by_day["rows"]] == ["2026-11-01", "2026-11-02"]
    # A day with no sign-ups is a row of zeros; the business day turns at midnight in Shanghai.
    quiet = _report(
        client,
        staff_headers(marketer),
        group_by="day",
        **{"from": "2026-10-30", "to": "2026-10-31"},
    )
    assert _figures(quiet["rows"]) == {
        "2026-10-30": (0, 0, 0, 0.0),
        "2026-10-31": (1, 1, 0, 0.0),
    }
    one_store = _report(
        client, staff_headers(marketer), group_by="day", store_id=planted["b"].id, **period
    )
    assert _figures(one_store["rows"]) == {
        "2026-11-01": (0, 0, 0, 0.0),
        "2026-11-02": (2, 1, 1, 0.5),
    }


def test_signup_report_days_follow_the_business_time_zone(
    app,
    client,
    session,
    make_store,
    make_staff,
    make_member,
    make_purchase,
    staff_headers,
    monkeypatch,
):
    planted = _plant(session, make_store, make_staff, make_member, make_purchase)
    marketer = make_staff("marketer")
    # 1 November in UTC holds m1, m2 (15:59:59 UTC) and m3 (00:00:00 on 2 November in Shanghai
    # is 16:00 UTC on the 1st); m4 (08:00 in Shanghai on the 2nd) is 00:00 UTC on the 2nd.
    monkeypatch.setitem(app.config, "BUSINESS_TZ", "UTC")
    by_day = _report(
        client,
        staff_headers(marketer),
        group_by="day",
        **{"from": "2026-11-01", "to": "2026-11-01"},
    )
    assert _figures(by_day["rows"]) == {"2026-11-01": (3, 2, 1, 0.3333)}
    assert planted["clerk_a"].store_id == planted["a"].id


def test_signup_report_access(
    client, session, make_store, make_staff, make_member, make_purchase, staff_headers
):
    planted = _plant(session, make_store, make_staff, make_member, make_purchase)
    period = {"from": "2026-11-01", "to": "2026-11-02"}
    manager = staff_headers(planted["manager_a"])
    own = _report(client, manager, group_by="store", **period)
    assert _figures(own["rows"]) == {"A": (4, 2, 2, 0.5)}
    assert own["store_id"] == planted["a"].id
    mine = _report(client, manager, group_by="staff", store_id=planted["a"].id, **period)
    assert set(_figures(mine["rows"])) == {planted["clerk_a"].username, None}
    other = client.get(
        "/staff/v1/reports/signups",
        query_string={"group_by": "store", "store_id": planted["b"].id, **period},
        headers=manager,
    )
    assert (other.status_code, error_code(other)) == (403, "auth.forbidden")
    clerk = client.get(
        "/staff/v1/reports/signups",
        query_string={"group_by": "store", **period},
        headers=staff_headers(planted["clerk_a"]),
    )
    assert (clerk.status_code, error_code(clerk)) == (403, "auth.forbidden")
    for bad in (
        {"group_by": "week", **period},
        {"group_by": "day", "from": "2026-11-02", "to": "2026-11-01"},
        {"group_by": "day", "from": "2025-01-01", "to": "2026-11-01"},
        {"group_by": "day", "from": "yesterday", "to": "2026-11-01"},
        {"group_by": "day"},
    ):
        answer = client.get("/staff/v1/reports/signups", query_string=bad, headers=manager)
        assert (answer.status_code, error_code(answer)) == (422, "request.invalid"), bad


# ---- member search by store purchase --------------------------------------------------------


def test_managers_find_members_who_bought_at_their_store(
    client, make_store, make_staff, make_member, make_purchase, staff_headers
):
    a, b = make_store(), make_store()
    manager_b = make_staff("manager", store=b)
    shopper = make_member(store=a, phone="13900000001")
    stranger = make_member(store=a, phone="13900000002")
    headers = staff_headers(manager_b)

    def found(phone):
        answer = client.get("/staff/v1/members", query_string={"phone": phone}, headers=headers)
        assert answer.status_code == 200, answer.get_json()
        return [m["id"] for m in answer.get_json()["items"]]

    assert found("13900000001") == []
    make_purchase(shopper, b, clock.now() - timedelta(days=3))
    make_purchase(shopper, b, clock.now() - timedelta(days=2))  # twice: still one member
    assert found("13900000001") == [shopper.id]
    assert found("13900000002") == []  # bought nowhere near store B
    make_purchase(stranger, a, clock.now())
    assert found("13900000002") == []
    manager_a = make_staff("manager", store=a)
    assert [
        m["id"]
        for m in client.get(
            "/staff/v1/members",
            query_string={"phone": "13900000002"},
            headers=staff_headers(manager_a),
        ).get_json()["items"]
    ] == [stranger.id]


# ---- at once --------------------------------------------------------------------------------


def test_twelve_first_oa_invite_codes_at_once_keep_one_ticket(
    session, make_staff, staff_headers, live_server
):
    clerk = make_staff("clerk")
    headers = staff_headers(clerk)
    url = live_server + "/staff/v1/me/invite-code?kind=oa"
    answers = fire([lambda s: s.get(url, headers=headers, timeout=30) for _ in range(12)], 12)
    assert [a.status_code for a in answers] == [200] * 12
    session.expire_all()
    assert session.query(OaQrCode).count() == 1
    assert {a.content for a in answers} == {qr_png(session.query(OaQrCode).one().url)}
    # Later calls use the one ticket kept: no more permanent codes.
    made = _sandbox(live_server, "/stats")["qrcode_create"]
    requests.get(url, headers=headers, timeout=30)
    assert _sandbox(live_server, "/stats")["qrcode_create"] == made


def test_twenty_first_sign_ins_at_once_with_two_staff_codes_credit_one(
    session, make_staff, live_server
):
    first, second = make_staff("clerk"), make_staff("clerk")
    url = live_server + "/api/v1/auth/login"

    def login(code):
        return lambda s: s.post(url, json={"code": "test:rush", "staff_code": code}, timeout=30)

    answers = fire([login(first.staff_code if i % 2 else second.staff_code) for i in range(20)])
    assert [a.status_code for a in answers] == [200] * 20
    new = [a.json() for a in answers if a.json()["is_new"]]
    assert len(new) == 1
    credited = new[0]["signed_up_by"]
    # Every answer, the new one's and the nineteen others', names the one credit stored.
    assert {(a.json()["signed_up_by"]["staff_id"]) for a in answers} == {credited["staff_id"]}
    member = session.get(Member, new[0]["member"]["id"])
    assert member.signed_up_by_staff_id == credited["staff_id"]


def test_the_migrations_backfill_gives_existing_staff_distinct_codes(session, make_staff):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "migrations/versions/i17_staff_signups.py"
    spec = importlib.util.spec_from_file_location("i17_staff_signups", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for _ in range(50):
        make_staff("marketer")
    session.execute(text(migration.BACKFILL))
    session.commit()
    codes = dict(session.execute(select(Staff.id, Staff.staff_code)).all())
    assert len(set(codes.values())) == 50
    assert all(len(code) == 6 and set(code) <= set(CROCKFORD) for code in codes.values())
    # A pure function of the id: the same id always gets the same code.
    session.execute(text(migration.BACKFILL))
    assert dict(session.execute(select(Staff.id, Staff.staff_code)).all()) == codes


def test_a_staff_code_drawn_twice_is_drawn_again(session, make_staff, monkeypatch):
    from app.services import identifiers
    from app.services import staff as staff_service

    taken = make_staff("marketer").staff_code
    draws = iter([taken, taken, "NEW1NE"])
    monkeypatch.setattr(identifiers, "new_staff_code", lambda: next(draws))
    created = staff_service.create_staff(
        session, username="drawn", password="long-enough-1", role="marketer", store_id=None
    )
    assert created.staff_code == "NEW1NE"
    assert session.query(Staff).count() == 2
