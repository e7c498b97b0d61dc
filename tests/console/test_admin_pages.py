"""Programs and jobs pages for admins, in the browser; a clerk's browser is refused them."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_admin_edits_the_points_programme_with_errors_shown_before_and_after_saving(
    page, shot, sign_in, make_staff, client, staff_headers
):
    admin = make_staff("admin")
    sign_in(admin, "/console/programs/points")
    page.wait_for_selector("#tiers tbody tr")
    shot("1-loaded")

    # Checked in the browser before saving: the schema's range (multiplier 100..1000).
    page.click("#add-tier")
    row = page.locator("#tiers tbody tr").last
    row.locator("[data-name=code]").fill("diamond")
    row.locator("[data-name=name]").fill("钻石卡")
    row.locator("[data-name=threshold]").fill("987654")
    row.locator("[data-name=multiplier_percent]").fill("50")
    page.click("[data-testid=save]")
    page.wait_for_selector("#points-form .field-error")
    assert (
        page.get_attribute(
            "#tiers tbody tr:last-child [data-name=multiplier_percent]", "aria-invalid"
        )
        == "true"
    )

    # Checked by the API: two tiers at the same threshold; its message is shown.
    row.locator("[data-name=multiplier_percent]").fill("150")
    row.locator("[data-name=threshold]").fill("0")
    page.click("[data-testid=save]")
    page.wait_for_selector("#points-form .form-error:visible")
    assert "request.invalid" in page.inner_text("#points-form .form-error")
    assert "Tier thresholds must differ." in page.inner_text("#points-form")
    shot("2-api-error")

    row.locator("[data-name=threshold]").fill("987654")
    page.fill("[data-field=points_per_yuan]", "2")
    page.click("[data-testid=save]")
    page.wait_for_selector("#flash.ok")
    saved = client.get("/staff/v1/admin/programs/points", headers=staff_headers(admin)).get_json()
    assert saved["points_per_yuan"] == 2
    assert [t["code"] for t in saved["tiers"]][-1] == "diamond"
    assert page.js_errors == []


def test_admin_edits_check_in_rules(page, shot, sign_in, make_staff, client, staff_headers):
    admin = make_staff("admin")
    sign_in(admin, "/console/programs/checkin")
    page.wait_for_selector("#rewards input")
    days = page.locator("#rewards input").count()
    page.click("#add-day")
    page.locator("#rewards input").last.fill("50")
    page.fill("[data-field=makeup_cost]", "30")
    page.click("[data-testid=save]")
    page.wait_for_selector("#flash.ok")
    shot("saved")
    rules = client.get("/staff/v1/admin/programs/checkin", headers=staff_headers(admin)).get_json()
    assert len(rules["rewards"]) == days + 1 and rules["rewards"][-1] == 50
    assert rules["makeup_cost"] == 30
    assert page.js_errors == []


def test_admin_reads_the_jobs_and_their_last_outcomes(page, shot, sign_in, make_staff, app):
    from jobs.schedule import JOBS

    admin = make_staff("admin")
    sign_in(admin, "/console/jobs")
    page.wait_for_selector("#jobs tbody tr[data-job]")
    names = page.locator("#jobs tbody tr[data-job]").evaluate_all(
        "rows => rows.map(r => r.dataset.job)"
    )
    assert sorted(names) == sorted(JOBS)
    shot("list")

    # The segments refresh reports nested figures (its model, seconds per step): each shows as
    # lines of `key: value`, never "[object Object]".
    from jobs.schedule import run_job

    with app.app_context():
        run_job("segments_refresh")
    page.click("#refresh")
    counts = page.locator("#jobs tbody tr[data-job=segments_refresh] pre.counts")
    counts.wait_for()
    text = counts.inner_text()
    assert "[object Object]" not in text
    assert "seconds:" in text and "model:" in text
    assert page.js_errors == []


def test_a_clerks_browser_is_refused_admin_pages_and_shown_no_admin_menu(
    page, shot, sign_in, make_staff
):
    clerk = make_staff("clerk")
    sign_in(clerk)
    links = page.locator("[data-testid=menu] a[data-page]").evaluate_all(
        "links => links.map(a => a.dataset.page)"
    )
    assert links == ["till"]
    for path in ["/console/jobs", "/console/programs/points", "/console/campaigns"]:
        response = page.goto(path)
        assert response.status == 403
        assert page.locator("[data-testid=message]").is_visible()
    shot("refused")


def test_admin_sets_segment_rules_and_sees_the_contracts_error(
    page, sign_in, make_staff, client, staff_headers
):
    admin = make_staff("admin")
    sign_in(admin, "/console/programs/segments")
    page.wait_for_function("document.querySelector('[data-field=lost_days]').value !== ''")
    active = page.input_value("[data-field=active_days]")
    page.fill("[data-field=lost_days]", active)  # lost must come after active
    page.click("[data-testid=save]")
    page.wait_for_selector("#segrules-form .field-error")
    assert "must be more than active_days" in page.inner_text("#segrules-form")
    page.fill("[data-field=lost_days]", str(int(active) + 200))
    page.click("[data-testid=save]")
    page.wait_for_selector("#flash.ok")
    saved = client.get("/staff/v1/admin/programs/segments", headers=staff_headers(admin))
    assert saved.get_json()["lost_days"] == int(active) + 200
    assert page.js_errors == []
