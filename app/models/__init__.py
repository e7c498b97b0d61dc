"""Every model module is imported here so that metadata (and Alembic) sees all tables.

Add one import line per domain module.
"""

from app.models.checkin import Checkin, MakeupAllowance  # noqa: F401
from app.models.coupons import Coupon, CouponHolding, CouponPush, CouponRedemption, CouponTemplate  # noqa: F401, E501
from app.models.idempotency import IdempotencyKey  # noqa: F401
from app.models.jobs import JobRun  # noqa: F401
from app.models.lottery import (  # noqa: F401, E501
    Lottery,
    LotteryDraw,
    LotteryDrawAllowance,
    LotteryPrize,
    PrizeDailyRelease,
)
from app.models.mall import MallExchange, MallHolding, MallItem, MallStockShard  # noqa: F401, E501
from app.models.members import Member  # noqa: F401
from app.models.membership import Membership, MembershipOrder, MembershipPlan  # noqa: F401
from app.models.messaging import Campaign, CampaignMember, OaQrCode, OutboxMessage  # noqa: F401
from app.models.points import PointEntry, PointLot  # noqa: F401
from app.models.pos import PosKey  # noqa: F401
from app.models.products import Product  # noqa: F401
from app.models.programs import ProgramConfig  # noqa: F401
from app.models.promotions import Promotion, PurchasePromotion  # noqa: F401
from app.models.referrals import MemberIdentity, Referral, ReferralReward  # noqa: F401
from app.models.segments import (  # noqa: F401
    MemberPurchaseSummary,
    MemberSegment,
    SegmentChange,
    SegmentModelValue,
    SegmentReport,
    SegmentState,
)
from app.models.staff import AuditEntry, Staff  # noqa: F401
from app.models.stores import Store  # noqa: F401
from app.models.till import Purchase, PurchaseLine, Refund, RefundLine, Scan  # noqa: F401
