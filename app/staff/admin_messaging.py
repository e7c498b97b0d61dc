"""GET/PUT /staff/v1/admin/programs/messaging (admin): send rate, quiet hours, cap, templates."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.messaging import MessagingSettingsSchema
from app.services.messaging import messaging_settings

blp = Blueprint(
    "admin_messaging",
    __name__,
    url_prefix="/staff/v1/admin/programs/messaging",
    description="Messaging settings",
)


@blp.route("")
class MessagingSettings(MethodView):
    @staff_required("admin")
    @blp.response(200, MessagingSettingsSchema)
    def get(self):
        """The send rate (shared by every dispatcher), quiet hours, marketing cap, templates."""
        return messaging_settings.current(db.session)

    @staff_required("admin")
    @blp.arguments(MessagingSettingsSchema)
    @blp.response(200, MessagingSettingsSchema)
    @blp.alt_response(422, schema=ErrorBodySchema, description="message.invalid_template")
    def put(self, settings):
        """Replace the messaging settings; templates are checked against WeChat's rules."""
        return messaging_settings.replace(db.session, settings, g.staff)
