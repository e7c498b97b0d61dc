"""Store systems, server to server, under /pos/v1: one module per resource (`blp`)."""

from __future__ import annotations

from app.pos import members, purchases
from app.pos.auth import SECURITY_SCHEME, SECURITY_SCHEME_DOC

BLUEPRINTS = [members.blp, purchases.blp]


def register_blueprints(api) -> None:
    api.spec.components.security_scheme(SECURITY_SCHEME, SECURITY_SCHEME_DOC)
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
