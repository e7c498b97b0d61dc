"""POST /api/v1/subscriptions: the result of wx.requestSubscribeMessage."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import member_required
from app.extensions import db
from app.idempotency import idempotent
from app.schemas.messaging import QuotasSchema, SubscriptionResultSchema
from app.services.messaging import subscriptions

blp = Blueprint(
    "subscriptions", __name__, url_prefix="/api/v1/subscriptions", description="Subscriptions"
)


@blp.route("")
class Subscriptions(MethodView):
    @member_required
    @idempotent
    @blp.arguments(SubscriptionResultSchema)
    @blp.response(200, QuotasSchema)
    def post(self, body):
        """Record which templates the member accepted: each acceptance allows one message."""
        return subscriptions.record_result(
            db.session, g.member_id, body["accepted"], body["rejected"]
        )
