"""The points lottery: GET /api/v1/lotteries, POST /api/v1/lotteries/{id}/draws."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import member_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.idempotency import idempotent
from app.rate_limits import per_caller
from app.schemas.lottery import DrawResultSchema, LotteryListSchema
from app.services import lottery

blp = Blueprint("lotteries", __name__, url_prefix="/api/v1/lotteries", description="Lottery")
# Taps, not the daily allowance (that is lottery.daily_limit): a member cannot hammer the wheel.
DRAW_RATE = "20/minute"


def _member_key() -> str:
    return f"draw:{g.get('member_id', 'anonymous')}"


@blp.route("")
class Lotteries(MethodView):
    @member_required
    @blp.response(200, LotteryListSchema)
    def get(self):
        """Lotteries open now, their prizes and the member's draws left today."""
        return lottery.open_lotteries(db.session, g.member_id)


@blp.route("/<int:lottery_id>/draws")
class Draws(MethodView):
    @member_required
    @idempotent  # outside the rate limit: a replay is answered whatever the taps
    @per_caller(DRAW_RATE, _member_key)
    @blp.response(201, DrawResultSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="lottery.not_found")
    @blp.alt_response(
        409,
        schema=ErrorBodySchema,
        description="points.insufficient, lottery.not_active, lottery.nothing_left",
    )
    @blp.alt_response(429, schema=ErrorBodySchema, description="lottery.daily_limit, rate.limited")
    def post(self, lottery_id):
        """Draw once, paying the cost in points; `prize` is null when nothing is won."""
        return lottery.draw(db.session, g.member_id, lottery_id)
