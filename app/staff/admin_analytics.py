"""GET /staff/v1/admin/analytics/{gmv,cohorts,repurchase,baskets} (marketer+); `format=csv`
answers the same figure as a CSV file."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app import clock
from app.auth import staff_required
from app.errors import AppError, ErrorBodySchema
from app.extensions import db
from app.models import Store
from app.schemas.analytics import (
    BasketsArgsSchema,
    BasketsSchema,
    CohortsArgsSchema,
    CohortsSchema,
    GmvArgsSchema,
    GmvSchema,
    RepurchaseSchema,
    StoreFilterSchema,
)
from app.services.analytics import baskets, cohorts, export, gmv, repurchase
from app.staff.csv_files import CSV_ANSWER, csv_response

blp = Blueprint(
    "admin_analytics", __name__, url_prefix="/staff/v1/admin/analytics", description="Analytics"
)


def _store(args: dict) -> int | None:
    store_id = args.get("store_id")
    if store_id is not None and db.session.get(Store, store_id) is None:
        raise AppError("not_found", message="No such store.")
    return store_id


@blp.route("/gmv")
class Gmv(MethodView):
    @staff_required("marketer")
    @blp.arguments(GmvArgsSchema, location="query")
    @blp.response(200, GmvSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found: no such store")
    @blp.alt_response(200, **CSV_ANSWER)
    def get(self, args):
        """A month's GMV, new members' versus existing members', its drivers, and the change
        from the previous month split over them."""
        data = gmv.gmv(db.session, args["month"], _store(args), clock.now())
        if args["format"] == "csv":
            return csv_response(
                f"analytics-gmv-{args['month']}.csv", *export.gmv_rows(GmvSchema().dump(data))
            )
        return data


@blp.route("/cohorts")
class Cohorts(MethodView):
    @staff_required("marketer")
    @blp.arguments(CohortsArgsSchema, location="query")
    @blp.response(200, CohortsSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found: no such store")
    @blp.alt_response(200, **CSV_ANSWER)
    def get(self, args):
        """Members by join month and the share of each cohort buying in each month since."""
        data = cohorts.cohorts(db.session, args["first"], args["last"], _store(args), clock.now())
        if args["format"] == "csv":
            name = f"analytics-cohorts-{args['first']}-{args['last']}.csv"
            return csv_response(name, *export.cohorts_rows(CohortsSchema().dump(data)))
        return data


@blp.route("/repurchase")
class Repurchase(MethodView):
    @staff_required("marketer")
    @blp.arguments(StoreFilterSchema, location="query")
    @blp.response(200, RepurchaseSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found: no such store")
    @blp.alt_response(200, **CSV_ANSWER)
    def get(self, args):
        """Days from the first to the second purchase, the 90-day second-purchase rate and the
        one-time-buyer share."""
        data = repurchase.repurchase(db.session, _store(args), clock.now())
        if args["format"] == "csv":
            return csv_response(
                "analytics-repurchase.csv", *export.repurchase_rows(RepurchaseSchema().dump(data))
            )
        return data


@blp.route("/baskets")
class Baskets(MethodView):
    @staff_required("marketer")
    @blp.arguments(BasketsArgsSchema, location="query")
    @blp.response(200, BasketsSchema)
    @blp.alt_response(404, schema=ErrorBodySchema, description="not_found: no such store")
    @blp.alt_response(200, **CSV_ANSWER)
    def get(self, args):
        """Units and lines per order (连带率), the average order and sales by category."""
        data = baskets.baskets(
            db.session, args["first"], args["last"], _store(args), args["category"], clock.now()
        )
        if args["format"] == "csv":
            name = f"analytics-baskets-{args['first']}-{args['last']}.csv"
            return csv_response(name, *export.baskets_rows(BasketsSchema().dump(data)))
        return data
