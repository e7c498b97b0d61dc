"""The console's words for the benefits of issue 19: the birthday gift, tier perks, paid plans."""

from __future__ import annotations

# key: (中文, English)
WORDS: dict[str, tuple[str, str]] = {
    "menu.birthday": ("生日礼", "Birthday gift"),
    "menu.membership": ("付费会员", "Paid membership"),
    "birthday.title": ("生日礼", "Birthday gift"),
    "birthday.enabled": ("启用生日礼", "Give birthday gifts"),
    "birthday.when": ("发放时间", "When"),
    "birthday.when.day": ("生日当天", "On the birthday"),
    "birthday.when.week": ("生日所在周（周一起）", "In the birthday's week (from Monday)"),
    "birthday.when.month": ("生日所在月（1 号起）", "In the birthday's month (from the 1st)"),
    "birthday.gift": ("礼物", "The gift"),
    "birthday.points": ("赠送积分", "Points given"),
    "birthday.coupon": ("赠送优惠券", "Coupon given"),
    "birthday.no_coupon": ("不送券", "No coupon"),
    "birthday.coupon_hint": (
        "每年一张：券的每人限领数会累计往年的生日券，请设为 10 或更多。",
        "One a year: the coupon's limit per member counts every year's, so give it 10 or more.",
    ),
    "birthday.notify": ("发放时通知会员", "Tell the member when it is given"),
    "birthday.hint": (
        "每天 00:20（北京时间）发放，每位会员每年一次；2 月 29 日生日在平年按 2 月 28 日。",
        "Given daily at 00:20 Beijing time, once a year per member; 29 February counts as"
        " 28 February in common years.",
    ),
    "points.redeem": ("积分抵现（收银台）", "Points at the till"),
    "points.redeem.points_per_yuan_off": (
        "多少积分抵 1 元（空或 0：不可抵现）",
        "Points per yuan off (empty or 0: none)",
    ),
    "points.redeem.max_share_percent": ("最多抵订单的 %", "At most % of the order"),
    "points.redeem.min_points": ("最少使用积分", "Fewest points used"),
    "points.tier.perks": ("等级权益", "Tier perks"),
    "points.tier.grace_days": ("保级天数", "Grace days"),
    "points.tier.gift_points": ("升级礼积分", "Upgrade gift: points"),
    "points.tier.gift_coupon": ("升级礼优惠券", "Upgrade gift: coupon"),
    "points.tier.monthly_coupons": ("每月 1 日赠券（可多选）", "Coupons on the 1st (several)"),
    "points.tier.no_coupon": ("不送券", "No coupon"),
    "points.perks_hint": (
        "升级礼每年每个等级只送一次；每月赠券的每人限领数会累计每个月的券，请设为每年 12 张或更多。"
        "保级天数：低于门槛后保留等级的天数，开始保级的当晚通知会员。",
        "An upgrade gift is given once a year per tier; a monthly coupon's limit per member counts"
        " every month's, so give it 12 a year or more. Grace days: how long a member keeps the"
        " tier after falling below it; they are told the night it starts.",
    ),
    "plans.title": ("付费会员", "Paid membership"),
    "plans.list": ("会员卡方案", "Plans"),
    "plans.new": ("新建方案", "New plan"),
    "plans.edit": ("编辑方案：{name}", "Edit: {name}"),
    "plans.price": ("价格（元）", "Price (yuan)"),
    "plans.months": ("月数", "Months"),
    "plans.months_n": ("{n} 个月", "{n} months"),
    "plans.multiplier": ("积分倍率（如 1.5）", "Points multiplier (e.g. 1.5)"),
    "plans.times": ("{m} 倍积分", "×{m} points"),
    "plans.monthly_coupons": ("每月赠券", "Monthly coupons"),
    "plans.monthly_coupons_hint": (
        "会员每个自然月各得一张；券的每人限领数请设为每年 12 张或更多。",
        "Each member gets one of each every month; give them a limit of 12 a year or more.",
    ),
    "plans.is_active": ("在售", "On sale"),
    "plans.status.on": ("在售", "On sale"),
    "plans.status.off": ("已下架", "Off sale"),
    "plans.stop": ("下架", "Take off sale"),
    "plans.refund": ("退款", "Refund"),
    "plans.refund_hint": (
        "按订单号退还未使用的整月（当月算已用），会员资格随即结束。重复提交只会退一次。",
        "Refunds the unused whole months of an order (the month in progress counts as used) and"
        " ends the membership. Submitting again refunds nothing more.",
    ),
    "plans.order_no": ("订单号", "Order no."),
    "plans.refund_reason": ("退款原因", "Reason"),
    "plans.refund_submit": ("退款", "Refund"),
    "plans.refund_question": (
        "确定为订单 {order} 退款并结束该会员的付费会员资格？",
        "Refund order {order} and end that member's paid membership?",
    ),
    "plans.refund_confirm": ("确认退款", "Yes, refund"),
    "plans.refund_done": (
        "订单 {order}：退款 {amount} 元（{months} 个月），{status}",
        "Order {order}: {amount} yuan refunded ({months} months), {status}",
    ),
    "plans.refund.refunding": ("退款处理中", "refund in progress"),
    "plans.refund.refunded": ("已退款", "refunded"),
    "err.membership.not_refundable": (
        "此订单未支付或已不能退款。",
        "This order is not paid, so it cannot be refunded.",
    ),
}
