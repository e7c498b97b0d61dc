"""The console's routes: sign-in and sign-out, the language switch, and one guarded view per page.

Each page view only renders a shell; its script calls the staff API. `console_page(name)` checks,
on every request, that the signed-in staff member's role may open that page.
"""

from __future__ import annotations

from flask import (
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from app.auth import issue_staff_token
from app.console import forms as form_rules
from app.console.blueprint import CONTENT_SECURITY_POLICY, bp
from app.console.i18n import catalogue, translate
from app.console.menus import PAGES, may_open, menu_for
from app.console.session import (
    LANGUAGES,
    PAGE_KEY,
    check_csrf,
    console_page,
    csrf_ok,
    csrf_token,
    current_staff,
    language,
    safe_next,
    sign_in,
    sign_out,
)
from app.errors import AppError
from app.extensions import db, limiter
from app.models import Staff, Store
from app.models.segments import LIFECYCLE_STAGES, RFM_GROUPS
from app.schemas.checkin import CheckinRulesSchema
from app.schemas.coupons import CouponTemplateSchema
from app.schemas.lottery import LotteryAdminSchema, PrizeSchema
from app.schemas.mall import MallItemSchema
from app.schemas.messaging import CampaignInSchema
from app.schemas.points import (
    ExpiryConfigSchema,
    PointsProgramSchema,
    PurchaseSchema,
    RedeemRuleSchema,
    RefundSchema,
    TierConfigSchema,
    UpgradeGiftSchema,
)
from app.schemas.promotions import PromotionSchema
from app.schemas.referrals import ReferralProgramSchema
from app.schemas.segments import SegmentsProgramSchema
from app.schemas.staff import PhoneConfirmSchema, PhoneLookupRequestSchema, ScanRequestSchema
from app.services import staff as staff_service
from app.services.messaging import console_choices


@bp.after_request
def _page_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        # Pages embed a bearer token: never keep them in a shared or back-button cache.
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_global("t")
def _t(key: str, **values) -> str:
    return translate(key, language(), **values)


@bp.app_template_global("field_attrs")
def _field_attrs(schema, name: str):
    return form_rules.html_attrs(form_rules.constraints(schema, name))


@bp.app_template_global("field_choices")
def _field_choices(schema, name: str) -> list[str]:
    return form_rules.choices(schema, name)


def _first_page_for(staff: Staff) -> str | None:
    for page in PAGES:
        if may_open(staff.role, staff.store_id, page):
            return url_for(f"console.{page.name}")
    return None


def render_page(template: str, **context):
    """A console page: the shell (menu, language, sign-out) plus what its script needs."""
    staff = current_staff()
    store = db.session.get(Store, staff.store_id) if staff and staff.store_id else None
    lang = language()
    script_config = {"lang": lang, "messages": catalogue(lang), "api": "/staff/v1"}
    if staff is not None:
        token, expires_in = issue_staff_token(staff.id)
        script_config.update(
            token=token,
            token_expires_in=expires_in,
            staff={
                "id": staff.id,
                "username": staff.username,
                "role": staff.role,
                "store_id": staff.store_id,
            },
            login_url=url_for("console.login", next=request.full_path.rstrip("?")),
        )
    script_config.update(context.pop("script", {}))
    return render_template(
        template,
        staff=staff,
        store=store,
        lang=lang,
        menu=menu_for(staff.role, staff.store_id) if staff else [],
        current_page=request.environ.get(PAGE_KEY),
        csrf=csrf_token(),
        script_config=script_config,
        **context,
    )


# ---- sign-in, sign-out, language ---------------------------------------------------------


def _only_posts() -> bool:
    return request.method != "POST"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30/minute", exempt_when=_only_posts)
def login():
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        staff = current_staff()
        if staff is not None:
            return redirect(target or _first_page_for(staff) or url_for("console.login_empty"))
        return render_page("console/login.html", next=target, error=None)
    if not csrf_ok():
        return render_page("console/login.html", next=target, error="login.expired"), 400
    try:
        # Wrong passwords count per username and address, as at the API's sign-in.
        staff = staff_service.sign_in(
            db.session,
            request.form.get("username", "")[:64],
            request.form.get("password", ""),
            request.remote_addr or "",
        )
    except AppError as err:
        if err.code == "rate.limited":
            page = render_page("console/login.html", next=target, error="login.rate_limited")
            return page, 429, err.headers
        return render_page("console/login.html", next=target, error="login.failed"), 401
    sign_in(staff)
    landing = _first_page_for(staff)
    if landing is None:
        return redirect(url_for("console.login_empty"))
    # The requested page only when this role may open it; otherwise the role's first page.
    return redirect(target or landing)


@bp.route("/welcome")
def login_empty():
    staff = current_staff()
    if staff is None:
        return redirect(url_for("console.login"))
    return render_page("console/message.html", title="app.title", body="login.no_pages")


@bp.route("/logout", methods=["POST"])
def logout():
    check_csrf()
    sign_out()
    return redirect(url_for("console.login"))


@bp.route("/lang/<string:lang>")
def switch_language(lang: str):
    if lang not in LANGUAGES:
        abort(404)
    session["lang"] = lang
    return redirect(safe_next(request.args.get("next")) or url_for("console.index"))


@bp.route("/")
def index():
    staff = current_staff()
    if staff is None:
        return redirect(url_for("console.login"))
    return redirect(_first_page_for(staff) or url_for("console.login_empty"))


@bp.errorhandler(403)
def _forbidden(_exc):
    return render_page("console/message.html", title="forbidden.title", body="forbidden.body"), 403


@bp.errorhandler(429)
def _rate_limited(_exc):
    target = safe_next(request.values.get("next"))
    return render_page("console/login.html", next=target, error="login.rate_limited"), 429


# ---- pages -------------------------------------------------------------------------------


@bp.route("/till")
@console_page("till")
def till():
    return render_page(
        "console/till.html",
        ScanRequestSchema=ScanRequestSchema,
        PhoneLookupRequestSchema=PhoneLookupRequestSchema,
        PhoneConfirmSchema=PhoneConfirmSchema,
        PurchaseSchema=PurchaseSchema,
        RefundSchema=RefundSchema,
    )


@bp.route("/programs/points")
@console_page("programs_points")
def programs_points():
    return render_page(
        "console/programs_points.html",
        PointsProgramSchema=PointsProgramSchema,
        ExpiryConfigSchema=ExpiryConfigSchema,
        TierConfigSchema=TierConfigSchema,
        UpgradeGiftSchema=UpgradeGiftSchema,
        RedeemRuleSchema=RedeemRuleSchema,
        rounding_choices=form_rules.choices(PointsProgramSchema, "rounding"),
        expiry_modes=form_rules.choices(ExpiryConfigSchema, "mode"),
        script={"tiers": form_rules.list_length(PointsProgramSchema, "tiers")},
    )


@bp.route("/programs/checkin")
@console_page("programs_checkin")
def programs_checkin():
    return render_page(
        "console/programs_checkin.html",
        CheckinRulesSchema=CheckinRulesSchema,
        script={"rewards": form_rules.list_length(CheckinRulesSchema, "rewards")},
    )


@bp.route("/jobs")
@console_page("jobs")
def jobs():
    return render_page("console/jobs.html")


@bp.route("/programs/lotteries")
@console_page("programs_lotteries")
def programs_lotteries():
    return render_page(
        "console/programs_lotteries.html",
        LotteryAdminSchema=LotteryAdminSchema,
        PrizeSchema=PrizeSchema,
    )


@bp.route("/programs/coupons")
@console_page("programs_coupons")
def programs_coupons():
    return render_page("console/programs_coupons.html", CouponTemplateSchema=CouponTemplateSchema)


@bp.route("/programs/mall")
@console_page("programs_mall")
def programs_mall():
    return render_page(
        "console/programs_mall.html",
        MallItemSchema=MallItemSchema,
        tiers=console_choices.tier_choices(db.session),
    )


@bp.route("/programs/promotions")
@console_page("programs_promotions")
def programs_promotions():
    return render_page(
        "console/programs_promotions.html",
        PromotionSchema=PromotionSchema,
        tiers=console_choices.tier_choices(db.session),
        stores=console_choices.store_choices(db.session),
    )


@bp.route("/programs/referral")
@console_page("programs_referral")
def programs_referral():
    return render_page(
        "console/programs_referral.html", ReferralProgramSchema=ReferralProgramSchema
    )


@bp.route("/segments")
@console_page("segments")
def segments():
    return render_page("console/segments.html")


@bp.route("/campaigns")
@bp.route("/campaigns/<int:campaign_id>")
@console_page("campaigns")
def campaigns(campaign_id: int | None = None):
    return render_page(
        "console/campaigns.html",
        CampaignInSchema=CampaignInSchema,
        lifecycle_stages=LIFECYCLE_STAGES,
        rfm_groups=RFM_GROUPS,
        stores=console_choices.store_choices(db.session),
        tiers=console_choices.tier_choices(db.session),
        script={"campaign_id": campaign_id},
    )


@bp.route("/campaigns/preview", methods=["POST"])
@console_page("campaigns")
def campaign_preview():
    """The message as a member will see it (JSON for the campaign page's preview pane)."""

    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("template"), dict):
        raise AppError(
            "request.invalid", message="Send the template.", details={"template": ["Required."]}
        )
    member_no = body.get("member_no") or None
    preview = console_choices.message_preview(
        db.session,
        body["template"],
        bool(body.get("official_account")),
        str(member_no)[:20] if member_no else None,
    )
    return jsonify(preview)


@bp.route("/programs/segments")
@console_page("programs_segments")
def programs_segments():
    return render_page(
        "console/programs_segments.html", SegmentsProgramSchema=SegmentsProgramSchema
    )
