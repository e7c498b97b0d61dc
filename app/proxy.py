"""Behind a reverse proxy (nginx, a cloud load balancer) the client's address is in
X-Forwarded-For. Rate limits by address and the access log need the real one, but the header can
be forged by anyone unless only the proxies we run may set it: PROXY_HOPS says how many.
"""

from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def trust_proxies(app: Flask) -> None:
    """Trust X-Forwarded-For/-Proto from PROXY_HOPS proxies in front of the app (default none)."""
    hops = int(app.config.get("PROXY_HOPS") or os.environ.get("PROXY_HOPS", "0") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
