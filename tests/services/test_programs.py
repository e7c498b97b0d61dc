"""Program settings: one registry, every program's admin page reads and writes through it."""

from __future__ import annotations

import pytest

from app.services import checkin, programs, referrals, segments
from app.services.benefits import birthday_gifts
from app.services.ledger import points_program
from app.services.messaging import outbox

# The admin pages of the contract, by the program they edit.
ADMIN_PAGES = {
    "points": "/staff/v1/admin/programs/points",
    "checkin": "/staff/v1/admin/programs/checkin",
    "segments": "/staff/v1/admin/programs/segments",
    "referral": "/staff/v1/admin/programs/referral",
    "messaging": "/staff/v1/admin/programs/messaging",
    "birthday": "/staff/v1/admin/programs/birthday",
}
READERS = {
    "points": points_program.config,
    "checkin": checkin.rules,
    "segments": segments.config,
    "referral": referrals.program,
    "messaging": outbox.settings,
    "birthday": birthday_gifts.program,
}


def test_the_registry_holds_every_program_of_the_admin_pages():
    assert programs.registered() == sorted(ADMIN_PAGES)


def test_an_unregistered_program_is_refused_not_read_as_empty(session, make_staff):
    with pytest.raises(KeyError, match="no program 'pointz'"):
        programs.get_config(session, "pointz")
    with pytest.raises(KeyError):
        programs.put_config(session, "pointz", {}, make_staff("admin"))
    with pytest.raises(ValueError, match="registered twice"):
        programs.register_defaults("points", {"earn_rate": 1})


@pytest.mark.parametrize("name", sorted(ADMIN_PAGES))
def test_what_an_admin_saves_is_what_every_reader_sees(
    name, client, session, make_staff, staff_headers
):
    """A PUT of the page's own answer goes through the registry and comes back unchanged."""
    headers = staff_headers(make_staff("admin"))
    page = ADMIN_PAGES[name]
    current = client.get(page, headers=headers)
    assert current.status_code == 200
    saved = client.put(page, json=current.get_json(), headers=headers)
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json() == current.get_json()
    stored = programs.get_config(session, name)
    assert READERS[name](session) == stored
    assert set(stored) >= set(programs._DEFAULTS[name])
