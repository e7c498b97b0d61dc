"""The audit trail (操作日志) for an admin, in the browser: every store, filters, more pages."""

from __future__ import annotations

import pytest

from app.models import AuditEntry

pytestmark = pytest.mark.browser


def test_admin_filters_the_trail_by_store_and_staff_and_reads_further_pages(
    page, shot, sign_in, make_staff, make_store, session
):
    north, south = make_store(name="北京东路店"), make_store(name="南京西路店")
    boss = make_staff("manager", store=north)
    other = make_staff("manager", store=south)
    admin = make_staff("admin")
    session.add_all(
        AuditEntry(
            staff_id=boss.id,
            store_id=north.id,
            action="points.adjust",
            target_type="member",
            target_id=str(n),
            details={"delta": n, "reason": "补录"},
        )
        for n in range(1, 56)
    )
    session.add(
        AuditEntry(
            staff_id=other.id,
            store_id=south.id,
            action="member.close",
            target_type="member",
            target_id="999",
            details={},
        )
    )
    session.commit()

    sign_in(admin, "/console/audit")
    page.wait_for_selector("[data-testid=entries][data-loaded=yes]")
    rows = page.locator("[data-testid=entries] tr[data-entry-id]")
    assert rows.count() == 50  # a page
    assert rows.first.locator("[data-testid=entry-action]").inner_text() == "member.close"
    page.click("[data-testid=more]")
    rows.nth(55).wait_for()  # the next page, appended
    assert rows.count() == 56
    assert page.locator("[data-testid=more]").is_hidden()
    shot("1-all")

    page.select_option("[data-testid=filter-store]", str(south.id))
    page.click("[data-testid=apply]")
    page.wait_for_selector("[data-testid=entries][data-loaded=yes]")
    assert rows.count() == 1
    assert "南京西路店" in rows.inner_text() and other.username in rows.inner_text()

    page.select_option("[data-testid=filter-store]", "")
    page.select_option("[data-testid=filter-staff]", str(boss.id))
    page.fill("[data-testid=filter-action]", "member.close")
    page.click("[data-testid=apply]")
    page.wait_for_selector("[data-testid=entries] [data-testid=none]")

    # Dates out of order are caught before asking.
    page.fill("[data-testid=filter-action]", "")
    page.fill("[data-testid=filter-from]", "2026-06-03")
    page.fill("[data-testid=filter-to]", "2026-06-01")
    page.click("[data-testid=apply]")
    page.wait_for_selector("[data-testid=audit-filters] .field-error")
    shot("2-filtered")
    assert page.js_errors == []
