"""Who may open which console page: enforced by the server on every page, not by the menu."""

from __future__ import annotations

import re

import pytest

from app.console.menus import PAGES
from tests.console.conftest import PASSWORD

ADMIN_PATHS = [
    "/console/programs/points",
    "/console/programs/checkin",
    "/console/programs/segments",
    "/console/programs/membership",
    "/console/jobs",
    "/console/stores",
    "/console/staff",
]
MARKETING_PATHS = [
    "/console/programs/lotteries",
    "/console/programs/coupons",
    "/console/programs/referral",
    "/console/programs/birthday",
    "/console/segments",
    "/console/analytics",
    "/console/campaigns",
    "/console/campaigns/1",
    "/console/pushes",
    "/console/referrals",
]
MANAGER_PATHS = ["/console/members", "/console/signups", "/console/audit"]


def console_login(client, staff, next_path: str | None = None):
    page = client.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    form = {"username": staff.username, "password": PASSWORD, "csrf": csrf}
    if next_path:
        form["next"] = next_path
    return client.post("/console/login", data=form)


def test_pages_need_a_signed_in_staff_member(client):
    for path in ["/console/till", *ADMIN_PATHS, *MARKETING_PATHS, *MANAGER_PATHS]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.location.startswith("/console/login?next=")


@pytest.mark.parametrize("path", ADMIN_PATHS + MARKETING_PATHS + MANAGER_PATHS)
def test_a_clerk_cannot_open_admin_or_marketing_pages_by_url(client, make_staff, path):
    clerk = make_staff("clerk")
    assert console_login(client, clerk).status_code == 302
    response = client.get(path)
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "无权访问" in text
    assert 'id="console-config"' in text  # the shell, not the page's own script
    assert "js/" + path.split("/")[-1] not in text


def test_a_clerk_signing_in_towards_an_admin_page_lands_on_a_refusal(client, make_staff):
    clerk = make_staff("clerk")
    response = console_login(client, clerk, next_path="/console/jobs")
    assert response.location == "/console/jobs"
    assert client.get("/console/jobs").status_code == 403


def test_a_clerks_menu_holds_only_the_till(client, make_staff):
    clerk = make_staff("clerk")
    response = console_login(client, clerk)
    assert response.location == "/console/till"
    text = client.get("/console/till").get_data(as_text=True)
    assert re.findall(r'data-page="(\w+)"', text) == ["till"]


def test_each_role_sees_its_menus(client, make_staff):
    expected = {
        "clerk": ["till"],
        "manager": ["till", "members", "signups", "audit"],
        "marketer": [
            "members",
            "signups",
            "programs_lotteries",
            "programs_coupons",
            "programs_mall",
            "programs_promotions",
            "programs_birthday",
            "programs_referral",
            "segments",
            "analytics",
            "campaigns",
            "pushes",
            "referrals",
            "audit",
        ],
        "admin": [p.name for p in PAGES if not p.needs_store],
    }
    for role, pages in expected.items():
        staff = make_staff(role)
        client.post("/console/logout", data={"csrf": "x"})  # refused without the token...
        client.delete_cookie("huiyuan_console")  # ...so start a fresh browser instead
        landing = console_login(client, staff).location
        text = client.get(landing).get_data(as_text=True)
        assert re.findall(r'data-page="(\w+)"', text) == pages, role
        for page in PAGES:
            status = client.get(f"/console/{page.name.replace('programs_', 'programs/')}")
            assert status.status_code == (200 if page.name in pages else 403), (role, page.name)


def test_a_clerks_token_from_the_page_is_refused_by_the_admin_api(client, make_staff):
    clerk = make_staff("clerk")
    console_login(client, clerk)
    text = client.get("/console/till").get_data(as_text=True)
    token = re.search(r'"token": "([^"]+)"', text).group(1)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/staff/v1/admin/jobs", headers=headers).status_code == 403
    assert client.get("/staff/v1/admin/programs/points", headers=headers).status_code == 403


def test_a_deactivated_account_is_signed_out_at_the_next_click(client, make_staff, session):
    manager = make_staff("manager")
    console_login(client, manager)
    assert client.get("/console/till").status_code == 200
    manager.is_active = False
    session.commit()
    assert client.get("/console/till").status_code == 302


def test_a_role_change_takes_effect_at_the_next_click(client, make_staff, session):
    admin = make_staff("admin")
    console_login(client, admin)
    assert client.get("/console/jobs").status_code == 200
    admin.role = "marketer"
    session.commit()
    assert client.get("/console/jobs").status_code == 403


def test_wrong_password_and_forged_cookie_are_refused(client, make_staff):
    clerk = make_staff("clerk")
    page = client.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    response = client.post(
        "/console/login", data={"username": clerk.username, "password": "nope", "csrf": csrf}
    )
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    # A cookie not signed with the app's key is no session at all.
    client.set_cookie("huiyuan_console", "eyJzaWQiOjF9.forged.signature")
    assert client.get("/console/jobs").status_code == 302


def test_sign_in_needs_the_forms_token_and_sign_out_ends_the_session(client, make_staff):
    clerk = make_staff("clerk")
    response = client.post(
        "/console/login", data={"username": clerk.username, "password": PASSWORD}
    )
    assert response.status_code == 400
    console_login(client, clerk)
    page = client.get("/console/till").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert client.post("/console/logout", data={"csrf": "wrong"}).status_code == 400
    assert client.get("/console/till").status_code == 200
    assert client.post("/console/logout", data={"csrf": csrf}).status_code == 302
    assert client.get("/console/till").status_code == 302


def test_redirects_stay_inside_the_console(client, make_staff):
    clerk = make_staff("clerk")
    for target in ["https://evil.example/", "//evil.example/console/", "/staff/v1/admin/jobs"]:
        client.delete_cookie("huiyuan_console")
        assert console_login(client, clerk, next_path=target).location == "/console/till"
    response = client.get("/console/lang/en?next=https://evil.example/")
    assert response.location == "/console/"


def test_english_is_one_switch_away(client, make_staff):
    clerk = make_staff("clerk")
    console_login(client, clerk)
    assert "收银台" in client.get("/console/till").get_data(as_text=True)
    client.get("/console/lang/en?next=/console/till")
    text = client.get("/console/till").get_data(as_text=True)
    assert "Till" in text and "Record purchase" in text


def test_pages_carry_a_strict_content_security_policy(client, make_staff):
    clerk = make_staff("clerk")
    console_login(client, clerk)
    response = client.get("/console/till")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "cdn" not in response.get_data(as_text=True).lower()


def test_guessing_passwords_is_slowed_down(client, make_staff):
    clerk = make_staff("clerk")
    page = client.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = {"username": clerk.username, "password": "wrong", "csrf": csrf}
    statuses = [client.post("/console/login", data=form).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    assert "尝试次数过多" in client.post("/console/login", data=form).get_data(as_text=True)


def test_wrong_passwords_from_another_address_do_not_lock_the_console_out(client, make_staff):
    clerk = make_staff("clerk")
    page = client.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = {"username": clerk.username, "password": "wrong", "csrf": csrf}
    attacker = {"REMOTE_ADDR": "10.6.6.7"}
    statuses = [
        client.post("/console/login", data=form, environ_base=attacker).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    mine = client.post("/console/login", data={**form, "password": "pass-1234"})
    assert mine.status_code == 302


@pytest.mark.parametrize("path", ["/console/stores", "/console/staff", "/console/pushes"])
def test_a_manager_cannot_open_admin_or_marketing_pages_by_url(client, make_staff, path):
    console_login(client, make_staff("manager"))
    assert client.get(path).status_code == 403
    assert client.get("/console/members").status_code == 200
    assert client.get("/console/audit").status_code == 200
