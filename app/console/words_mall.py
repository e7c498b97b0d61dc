"""The console's words for the points mall and for points and pickups at the till."""

from __future__ import annotations

# key: (中文, English)
WORDS: dict[str, tuple[str, str]] = {
    "menu.mall": ("积分商城", "Points mall"),
    "mall.list": ("商城商品", "Mall items"),
    "mall.new": ("新建商品", "New mall item"),
    "mall.edit": ("编辑商品：{name}", "Edit: {name}"),
    "mall.description": ("说明", "Description"),
    "mall.kind": ("类型", "Kind"),
    "mall.kind.coupon": ("优惠券", "Coupon"),
    "mall.kind.goods": ("实物（到店领取）", "Goods (collected in store)"),
    "mall.coupon_template": ("优惠券模板", "Coupon template"),
    "mall.cost_points": ("兑换积分", "Points per unit"),
    "mall.stock": ("库存", "Stock"),
    "mall.stock_total": ("总库存", "Total stock"),
    "mall.exchanged_of": ("已兑 {exchanged} / {total}", "{exchanged} of {total} exchanged"),
    "mall.limit_per_member": ("每人限兑", "Limit per member"),
    "mall.tiers": ("可兑等级（都不选：所有等级）", "Tiers (none ticked: every tier)"),
    "mall.all_tiers": ("所有等级", "Every tier"),
    "mall.starts_at": ("开始时间（可空）", "Starts (optional)"),
    "mall.ends_at": ("结束时间（可空）", "Ends (optional)"),
    "mall.window": ("时间", "When"),
    "mall.always": ("不限", "Always"),
    "mall.image": ("图片", "Image"),
    "mall.image_url": ("图片地址（可空）", "Image URL (optional)"),
    "mall.is_active": ("上架", "On offer"),
    "mall.stop": ("下架", "Stop offering"),
    "mall.status.offered": ("兑换中", "Offered"),
    "mall.status.upcoming": ("未开始", "Not yet open"),
    "mall.status.ended": ("已结束", "Ended"),
    "mall.status.sold_out": ("已兑完", "Sold out"),
    "mall.status.stopped": ("已下架", "Stopped"),
    "err.mall.stock_below_exchanged": (
        "库存不能少于已兑换的数量。",
        "The stock cannot be below what was exchanged.",
    ),
    "till.points": ("积分抵现", "Pay with points"),
    "till.redeem_rule": (
        "{per_yuan} 积分抵 1 元，最多抵订单的 {share}%{min}",
        "{per_yuan} points take 1 yuan off, up to {share}% of the order{min}",
    ),
    "till.redeem_min": ("，每次至少 {n} 积分", "; at least {n} points at a time"),
    "till.no_redeem": ("积分暂不能抵现", "The till takes no points"),
    "till.points_to_redeem": ("使用积分", "Points to use"),
    "till.points_preview": ("预览抵扣", "Preview"),
    "till.points_preview_result": (
        "{points} 积分抵 {discount} 元，应付 {payable} 元（本单最多可用 {max} 积分）",
        "{points} points take {discount} yuan off; to pay {payable} yuan (this order takes at"
        " most {max} points)",
    ),
    "till.purchase_done_points": (
        "已记录订单 {order}：使用 {redeemed} 积分抵 {discount} 元，应付 {payable} 元，"
        "获得 {points} 积分，余额 {balance}",
        "Order {order} recorded: {redeemed} points took {discount} yuan off, paid {payable}"
        " yuan, {points} points earned, balance {balance}",
    ),
    "till.max_points": ("本单最多可用 {n} 积分", "This order takes at most {n} points"),
    "till.pickups": ("待领取", "To collect"),
    "till.no_pickups": ("没有待领取的物品", "Nothing to collect"),
    "till.pickup.goods": ("积分兑换", "Points mall"),
    "till.pickup.lottery_prize": ("抽奖奖品", "Lottery prize"),
    "till.pickup_code": ("提货码 {code}", "Pickup code {code}"),
    "till.pickup_quantity": ("× {n}", "× {n}"),
    "till.collect": ("交付", "Hand over"),
    "till.collected": ("已交付", "Handed over"),
    "till.coupon_returned": (
        "订单已全额退款，优惠券已退回：{names}",
        "The order was fully refunded; coupons given back: {names}",
    ),
    "till.refund_done_returned": (
        "已退款 {amount} 元，扣回 {points} 积分，退回 {returned} 积分，余额 {balance}",
        "Refunded {amount} yuan; {points} points reversed, {returned} points given back,"
        " balance {balance}",
    ),
    "err.points.insufficient": ("会员积分不足。", "The member has too few points."),
    "err.points.redeem_over_limit": (
        "超出积分抵现规则允许的数量。",
        "More points than the rule allows on this order.",
    ),
    "err.exchange.unknown": ("没有这个提货码。", "No such pickup code."),
    "err.exchange.already_collected": ("已经交付过了。", "Already handed over."),
    "err.lottery.already_fulfilled": ("奖品已经交付过了。", "The prize was already handed over."),
    "err.lottery.win_not_found": ("没有这个中奖记录。", "No such prize won."),
}
