"""Counting staff sign-in attempts, so that guessing is slow and cannot lock a staff member out.

Wrong passwords count per username and address: 5 a minute from one address, then that address
waits (429 rate.limited, whatever the password). Against a guess spread over many addresses, a
username also has 20 wrong passwords a minute in all; beyond that only addresses the staff member
signed in from before (the last 90 days) are let try. A right password gives its attempt back.
Attempts are taken before the password is checked (atomic INCR), so parallel guesses cannot pass
the count together. The counts are in Redis under REDIS_KEY_PREFIX.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from app.errors import AppError
from app.extensions import get_redis, rkey

WINDOW_SECONDS = 60
PER_ADDRESS = 5  # wrong passwords a minute for one username from one address
PER_USERNAME = 20  # from all addresses together, before unknown addresses are turned away
KNOWN_SECONDS = 90 * 24 * 3600  # how long an address stays known after a sign-in from it


class Attempt(NamedTuple):
    pair_key: str
    username_key: str
    known_key: str
    address: str


def _keys(username: str, address: str) -> Attempt:
    who = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    return Attempt(
        rkey("staff_login", "fails", who, address),
        rkey("staff_login", "fails", who),
        rkey("staff_login", "known", who),
        address,
    )


def _take(client, key: str) -> int:
    pipe = client.pipeline()  # MULTI: the window starts with the first attempt
    pipe.set(key, 0, ex=WINDOW_SECONDS, nx=True)
    pipe.incr(key)
    return pipe.execute()[1]


def admit(username: str, address: str) -> Attempt:
    """Take one attempt for this username from this address, or 429 with Retry-After."""
    attempt = _keys(username, address)
    client = get_redis()
    from_here = _take(client, attempt.pair_key)
    in_all = _take(client, attempt.username_key)
    if from_here <= PER_ADDRESS and (
        in_all <= PER_USERNAME or client.sismember(attempt.known_key, address)
    ):
        return attempt
    _give_back(client, attempt)  # a refused attempt checked no password
    held = attempt.pair_key if from_here > PER_ADDRESS else attempt.username_key
    wait = client.ttl(held)
    raise AppError(
        "rate.limited",
        message="Too many wrong passwords; wait a minute.",
        details={"limit": f"{PER_ADDRESS} per minute"},
        headers={"Retry-After": str(max(1, wait if wait and wait > 0 else WINDOW_SECONDS))},
    )


# Only a window still open is given back: a DECR of an expired key would start one without TTL.
_GIVE_BACK = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
"""


def _give_back(client, attempt: Attempt) -> None:
    client.eval(_GIVE_BACK, 2, attempt.pair_key, attempt.username_key)


def succeeded(attempt: Attempt) -> None:
    """The password was right: the attempt is not a failure, and the address is now known."""
    client = get_redis()
    _give_back(client, attempt)
    pipe = client.pipeline()
    pipe.sadd(attempt.known_key, attempt.address)
    pipe.expire(attempt.known_key, KNOWN_SECONDS)
    pipe.execute()
