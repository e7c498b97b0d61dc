"""CRUD /staff/v1/admin/lotteries with their prizes (marketer+)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.common import PageArgsSchema
from app.schemas.lottery import (
    LotteryAdminPageSchema,
    LotteryAdminSchema,
    LotteryPatchSchema,
    PrizePatchSchema,
    PrizeSchema,
)
from app.services.lottery import lottery_admin

blp = Blueprint(
    "admin_lotteries", __name__, url_prefix="/staff/v1/admin/lotteries", description="Lotteries"
)


@blp.route("")
class Lotteries(MethodView):
    @staff_required("marketer")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, LotteryAdminPageSchema)
    def get(self, args):
        return lottery_admin.list_lotteries(db.session, args["limit"], args["cursor"])

    @staff_required("marketer")
    @blp.arguments(LotteryAdminSchema)
    @blp.response(201, LotteryAdminSchema)
    def post(self, fields):
        """A lottery with its prizes; the no-prize slot is a prize of kind `none`."""
        return lottery_admin.create_lottery(db.session, fields, g.staff)


@blp.route("/<int:lottery_id>")
class LotteryItem(MethodView):
    @staff_required("marketer")
    @blp.response(200, LotteryAdminSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="lottery.not_found")
    def get(self, lottery_id):
        return lottery_admin.show_lottery(db.session, lottery_id)

    @staff_required("marketer")
    @blp.arguments(LotteryPatchSchema)
    @blp.response(200, LotteryAdminSchema)
    def patch(self, changes, lottery_id):
        return lottery_admin.update_lottery(db.session, lottery_id, changes, g.staff)

    @staff_required("marketer")
    @blp.response(200, LotteryAdminSchema)
    def delete(self, lottery_id):
        """Close the lottery (draws stay for audit)."""
        return lottery_admin.update_lottery(db.session, lottery_id, {"is_active": False}, g.staff)


@blp.route("/<int:lottery_id>/prizes")
class Prizes(MethodView):
    @staff_required("marketer")
    @blp.arguments(PrizeSchema)
    @blp.response(201, PrizeSchema)
    def post(self, fields, lottery_id):
        return lottery_admin.add_prize(db.session, lottery_id, fields, g.staff)


@blp.route("/<int:lottery_id>/prizes/<int:prize_id>")
class PrizeItem(MethodView):
    @staff_required("marketer")
    @blp.arguments(PrizePatchSchema)
    @blp.response(200, PrizeSchema)
    @blp.alt_response(409, schema=ErrorBodySchema, description="lottery.stock_below_won")
    def patch(self, changes, lottery_id, prize_id):
        """Change weight, stock (not below what was won), daily cap, or switch it off."""
        return lottery_admin.update_prize(db.session, lottery_id, prize_id, changes, g.staff)

    @staff_required("marketer")
    @blp.response(200, PrizeSchema)
    def delete(self, lottery_id, prize_id):
        return lottery_admin.update_prize(
            db.session, lottery_id, prize_id, {"is_active": False}, g.staff
        )
