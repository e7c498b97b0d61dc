"""Campaigns (marketer+): CRUD, schedule, cancel and the report, under /staff/v1/admin/campaigns."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import staff_required
from app.errors import ErrorBodySchema
from app.extensions import db
from app.schemas.common import PageArgsSchema, page_schema
from app.schemas.messaging import (
    CampaignInSchema,
    CampaignPatchSchema,
    CampaignReportSchema,
    CampaignSchema,
    ReportArgsSchema,
)
from app.services.messaging import campaign_report, campaigns

blp = Blueprint(
    "admin_campaigns", __name__, url_prefix="/staff/v1/admin/campaigns", description="Campaigns"
)
CampaignPage = page_schema(CampaignSchema, "CampaignPage")


@blp.route("")
class Campaigns(MethodView):
    @staff_required("marketer")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, CampaignPage)
    def get(self, args):
        """Campaigns, newest first."""
        return campaigns.list_campaigns(db.session, args["limit"], args["cursor"])

    @staff_required("marketer")
    @blp.arguments(CampaignInSchema)
    @blp.response(201, CampaignSchema)
    def post(self, body):
        """A new campaign (a draft until scheduled)."""
        return campaigns.create(db.session, body, g.staff)


@blp.route("/<int:campaign_id>")
class CampaignItem(MethodView):
    @staff_required("marketer")
    @blp.response(200, CampaignSchema)
    def get(self, campaign_id):
        return campaigns.get(db.session, campaign_id)

    @staff_required("marketer")
    @blp.arguments(CampaignPatchSchema(partial=True))
    @blp.response(200, CampaignSchema)
    @blp.alt_response(409, schema=ErrorBodySchema, description="campaign.not_editable")
    def patch(self, body, campaign_id):
        """Change a draft."""
        return campaigns.update_draft(db.session, campaign_id, body, g.staff)

    @staff_required("marketer")
    @blp.response(204)
    @blp.alt_response(409, schema=ErrorBodySchema, description="campaign.not_editable")
    def delete(self, campaign_id):
        """Delete a draft (a scheduled campaign is cancelled instead)."""
        campaigns.delete_draft(db.session, campaign_id, g.staff)


@blp.route("/<int:campaign_id>/schedule")
class CampaignSchedule(MethodView):
    @staff_required("marketer")
    @blp.response(200, CampaignSchema)
    @blp.alt_response(409, schema=ErrorBodySchema, description="campaign.not_draft")
    @blp.alt_response(422, schema=ErrorBodySchema, description="message.invalid_template")
    def post(self, campaign_id):
        """Send at its send time; the template is checked against WeChat's field rules first."""
        return campaigns.schedule(db.session, campaign_id, g.staff)


@blp.route("/<int:campaign_id>/cancel")
class CampaignCancel(MethodView):
    @staff_required("marketer")
    @blp.response(200, CampaignSchema)
    @blp.alt_response(409, schema=ErrorBodySchema, description="campaign.not_cancellable")
    def post(self, campaign_id):
        """Stop it: messages not yet sent are dropped."""
        return campaigns.cancel(db.session, campaign_id, g.staff)


@blp.route("/<int:campaign_id>/report")
class CampaignReport(MethodView):
    @staff_required("marketer")
    @blp.arguments(ReportArgsSchema, location="query")
    @blp.response(200, CampaignReportSchema)
    def get(self, args, campaign_id):
        """Messages by outcome, and treated versus holdout: purchase share and spend, with 95%
        confidence intervals of the differences."""
        return campaign_report.report(db.session, campaign_id, args["days"])
