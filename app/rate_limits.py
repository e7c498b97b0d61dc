"""A per-caller rate limit that answers like the rest of the API and leaves other headers alone.

Flask-Limiter's decorator also rewrites `Retry-After` on every answer of the route, which would
blur a business refusal's own Retry-After (the lottery's "until midnight"). This uses the same
storage (Redis, under REDIS_KEY_PREFIX) and strategy, and only speaks when the limit is hit.
On an endpoint with an Idempotency-Key it goes inside `@idempotent`: a replay is answered first,
and a rate-limited request stores nothing under its key.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable

from flask import current_app, request
from limits import parse

from app.errors import AppError
from app.extensions import limiter


def per_caller(rate: str, key: Callable[[], str]) -> Callable:
    """Refuse with 429 rate.limited (and Retry-After) beyond `rate` per key, e.g. "20/minute"."""
    item = parse(rate)

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if limiter.enabled and limiter.limiter is not None:
                prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
                identity = f"{prefix}/{key()}" if prefix else key()
                # One tap per request: the transaction's retry after a deadlock is not another.
                counted = request.environ.setdefault("huiyuan.rate_limits_counted", set())
                if (identity, str(item)) in counted:
                    return fn(*args, **kwargs)
                counted.add((identity, str(item)))
                if not limiter.limiter.hit(item, identity):
                    reset_at = limiter.limiter.get_window_stats(item, identity).reset_time
                    wait = max(1, math.ceil(reset_at - time.time()))
                    raise AppError(
                        "rate.limited",
                        message="Too many requests; slow down.",
                        details={"limit": str(item)},
                        headers={"Retry-After": str(wait)},
                    )
            return fn(*args, **kwargs)

        return wrapper

    return decorator
