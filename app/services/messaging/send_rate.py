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
local n = tonumber(ARGV[4] or '1')
local state = redis.call('hmget', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = burst; at = now end
if now > at then tokens = math.min(burst, tokens + (now - at) * rate); at = now end
local wait = 0
if tokens >= n then tokens = tokens - n else wait = (n - tokens) / rate end
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

    def try_take(self, n: int = 1) -> float:
        """Take `n` tokens (at most the burst): 0 when granted, else the seconds to wait before
        asking again."""
        n = min(max(int(n), 1), int(self.burst))
        return float(self._script(keys=[self.key], args=[self.rate, self.burst, time.time(), n]))

    def take(self, n: int = 1, give_up_after: float = 30.0) -> bool:
        """Wait for `n` tokens, all at once (False if they did not come within `give_up_after`
        seconds). A dispatcher takes a chunk's tokens in one call."""
        deadline = time.monotonic() + give_up_after
        while True:
            wait = self.try_take(n)
            if wait <= 0:
                return True
            if time.monotonic() + wait > deadline:
                return False
            time.sleep(min(wait, 1.0))
