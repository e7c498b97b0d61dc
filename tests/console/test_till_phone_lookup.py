"""The till finds a shopper whose phone is dead by phone number, in the browser."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import AuditEntry

pytestmark = pytest.mark.browser


def test_clerk_finds_the_shopper_by_phone_and_the_shopper_confirms_the_last_four(
    page, shot, sign_in, make_store, make_staff, make_member, session
):
    store = make_store(name="静安寺店")
    clerk = make_staff("clerk", store=store)
    make_member(store=store, nickname="小李", phone="13912345678")

    sign_in(clerk)
    page.click("[data-testid=phone-lookup] summary")
    page.fill("#phone-form input[name=phone]", "139 1234 5678")
    page.click("[data-testid=phone-lookup-start]")
    page.wait_for_selector("[data-testid=confirm-form]:visible")
    assert page.inner_text("[data-testid=masked-phone]") == "139****5678"
    # Nothing about the member yet.
    assert "小李" not in page.inner_text("body")
    shot("1-masked")

    page.fill("#confirm-form input[name=last_four]", "5679")
    page.click("[data-testid=phone-lookup-confirm]")
    page.wait_for_selector("#confirm-form .form-error:visible")
    assert "phone_lookup.mismatch" in page.inner_text("#confirm-form .form-error")
    assert page.input_value("#confirm-form input[name=last_four]") == ""

    page.fill("#confirm-form input[name=last_four]", "5678")
    page.click("[data-testid=phone-lookup-confirm]")
    page.wait_for_selector("[data-testid=member]:visible")
    assert "小李" in page.inner_text("[data-testid=member]")
    assert page.is_hidden("[data-testid=phone-lookup]")
    shot("2-member")

    # The next customer starts from a clean lookup.
    page.click("[data-testid=next-member]")
    page.click("[data-testid=phone-lookup] summary")
    assert page.is_visible("[data-testid=phone-form]")
    assert page.is_hidden("[data-testid=confirm-form]")
    assert page.input_value("#phone-form input[name=phone]") == ""
    actions = session.execute(
        select(AuditEntry.action).where(AuditEntry.staff_id == clerk.id).order_by(AuditEntry.id)
    ).scalars()
    assert list(actions) == [
        "member.phone_lookup",
        "member.phone_lookup_mismatch",
        "member.phone_lookup_confirmed",
    ]


def test_an_unknown_number_says_so_at_the_till(page, sign_in, make_store, make_staff):
    clerk = make_staff("clerk", store=make_store())
    sign_in(clerk)
    page.click("[data-testid=phone-lookup] summary")
    page.fill("#phone-form input[name=phone]", "13900000000")
    page.click("[data-testid=phone-lookup-start]")
    page.wait_for_selector("#phone-form .form-error:visible")
    assert "member.not_found" in page.inner_text("#phone-form .form-error")
    assert page.is_hidden("[data-testid=confirm-form]")
