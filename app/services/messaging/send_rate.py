"""The send rate shared by every dispatcher process: a token bucket kept in Redis.

One Lua script refills the bucket for the time elapsed and takes a token, atomically, so any
number of processes together stay under `rate` sends a second (bursting to `burst`).
"""

from __future__ import annotations

import time

import redis

_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('hmget', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = burst; at = now end
if now > at then tokens = math.min(burst, tokens + (now - at) * rate); at = now end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('hset', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('pexpire', KEYS[1], 60000)
return tostring(wait)
"""


class TokenBucket:
    def __init__(self, client: redis.Redis, key: str, rate: float, burst: float) -> None:
        self.client = client
        self.key = key
        self.rate = max(float(rate), 0.001)
        self.burst = max(float(burst), 1.0)
        self._script = client.register_script(_TAKE)

    def pause(self, seconds: float) -> None:
        """Stop every dispatcher sending for a while (WeChat's daily quota is used up)."""
        self.client.set(self.key + ":paused", "1", px=int(seconds * 1000))

    def paused(self) -> bool:
        return bool(self.client.exists(self.key + ":paused"))

    def try_take(self) -> float:
        """Take a token: 0 when granted, else the seconds to wait before asking again."""
        return float(self._script(keys=[self.key], args=[self.rate, self.burst, time.time()]))

    def take(self, give_up_after: float = 30.0) -> bool:
        """Wait for a token (False if none came within `give_up_after` seconds)."""
        deadline = time.monotonic() + give_up_after
        while True:
            wait = self.try_take()
            if wait <= 0:
                return True
            if time.monotonic() + wait > deadline:
                return False
            time.sleep(min(wait, 1.0))
