"""Access tokens shared by every process through Redis, refreshed by one process at a time.

WeChat's stable_token endpoint returns the same token until it rotates, so processes cannot
invalidate each other; the lock keeps a cold start from sending a refresh storm.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable

from app.extensions import get_redis, rkey

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_DROP_IF_SAME = """
local raw = redis.call('get', KEYS[1])
if raw and cjson.decode(raw)['token'] == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
EARLY_REFRESH_SECONDS = 300  # refresh well inside WeChat's 5-minute overlap of old and new
LOCK_MS = 10_000
WAIT_SECONDS = 6.0


class TokenUnavailable(RuntimeError):
    pass


def _key(appid: str) -> str:
    return rkey("wechat", "token", appid)


def cached_token(appid: str) -> str | None:
    raw = get_redis().get(_key(appid))
    if not raw:
        return None
    entry = json.loads(raw)
    if entry["expires_at"] - time.time() <= EARLY_REFRESH_SECONDS:
        return None
    return entry["token"]


def get_token(appid: str, fetch: Callable[[], tuple[str, int]]) -> str:
    """The current token for `appid`; `fetch()` returns (token, expires_in) from WeChat."""
    token = cached_token(appid)
    if token:
        return token
    client = get_redis()
    lock_key = rkey("wechat", "token_lock", appid)
    owner = secrets.token_hex(8)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        if client.set(lock_key, owner, nx=True, px=LOCK_MS):
            try:
                token = cached_token(appid)  # someone may have refreshed just before us
                if token:
                    return token
                token, expires_in = fetch()
                entry = {"token": token, "expires_at": time.time() + int(expires_in)}
                client.set(_key(appid), json.dumps(entry), ex=max(int(expires_in), 1))
                return token
            finally:
                client.eval(_RELEASE, 1, lock_key, owner)
        time.sleep(0.05)
        token = cached_token(appid)
        if token:
            return token
        if time.monotonic() > deadline:
            raise TokenUnavailable(f"no access token for {appid}: refresh is stuck")


def drop_token(appid: str, token: str) -> None:
    """Forget the cached token, but only if it is still the one WeChat refused."""
    get_redis().eval(_DROP_IF_SAME, 1, _key(appid), token)
