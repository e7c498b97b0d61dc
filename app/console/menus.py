"""The console's pages and who may open them: the one table both the menu and the guard read.

The roles mirror the staff API's (clerk < manager < marketer < admin), and each page asks for the
same minimum role as the API endpoints it calls, so the console never shows a page whose API would
refuse the caller. The till needs a store: only clerks and managers are bound to one.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.auth import ROLE_RANK


@dataclass(frozen=True)
class Page:
    name: str  # the view's endpoint name inside the console blueprint
    label: str  # i18n key of the menu entry
    min_role: str
    group: str  # i18n key of the menu group
    needs_store: bool = False


PAGES: tuple[Page, ...] = (
    Page("till", "menu.till", "clerk", "group.store", needs_store=True),
    Page("members", "menu.members", "manager", "group.store"),
    Page("signups", "menu.signups", "manager", "group.store"),
    Page("programs_points", "menu.points", "admin", "group.programs"),
    Page("programs_checkin", "menu.checkin", "admin", "group.programs"),
    Page("programs_lotteries", "menu.lotteries", "marketer", "group.programs"),
    Page("programs_coupons", "menu.coupons", "marketer", "group.programs"),
    Page("programs_mall", "menu.mall", "marketer", "group.programs"),
    Page("programs_promotions", "menu.promotions", "marketer", "group.programs"),
    Page("programs_birthday", "menu.birthday", "marketer", "group.programs"),
    Page("programs_referral", "menu.referral", "marketer", "group.programs"),
    Page("programs_segments", "menu.segment_rules", "admin", "group.programs"),
    Page("programs_membership", "menu.membership", "admin", "group.programs"),
    Page("segments", "menu.segments", "marketer", "group.marketing"),
    Page("analytics", "menu.analytics", "marketer", "group.marketing"),
    Page("campaigns", "menu.campaigns", "marketer", "group.marketing"),
    Page("pushes", "menu.pushes", "marketer", "group.marketing"),
    Page("referrals", "menu.referrals", "marketer", "group.marketing"),
    Page("stores", "menu.stores", "admin", "group.system"),
    Page("staff", "menu.staff", "admin", "group.system"),
    Page("audit", "menu.audit", "manager", "group.system"),
    Page("jobs", "menu.jobs", "admin", "group.system"),
)
PAGES_BY_NAME = {page.name: page for page in PAGES}


def may_open(role: str, store_id: int | None, page: Page) -> bool:
    """A staff member may open a page when their role reaches its minimum (and, for the till,
    when they belong to a store)."""
    if ROLE_RANK.get(role, 0) < ROLE_RANK[page.min_role]:
        return False
    return not (page.needs_store and store_id is None)


def menu_for(role: str, store_id: int | None) -> list[tuple[str, list[Page]]]:
    """The menu groups, in order, holding only the pages this staff member may open."""
    groups: dict[str, list[Page]] = {}
    for page in PAGES:
        if may_open(role, store_id, page):
            groups.setdefault(page.group, []).append(page)
    return list(groups.items())
