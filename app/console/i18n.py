"""The console's words in Chinese (the default) and English.

One table for the templates and the browser scripts: the page embeds the current language's
entries, and `t(key)` in JavaScript reads them. Error codes from the API have entries under
`err.<code>`; for a code without one the API's own message is shown.
"""

from __future__ import annotations

# key: (中文, English)
MESSAGES: dict[str, tuple[str, str]] = {
    "app.title": ("会员管理后台", "Huiyuan console"),
    "app.skip": ("跳到正文", "Skip to content"),
    "nav.menu": ("菜单", "Menu"),
    "nav.signout": ("退出登录", "Sign out"),
    "nav.switch_lang": ("English", "中文"),
    "nav.all_stores": ("全部门店", "All stores"),
    "role.clerk": ("店员", "Clerk"),
    "role.manager": ("店长", "Manager"),
    "role.marketer": ("市场", "Marketer"),
    "role.admin": ("管理员", "Admin"),
    "group.store": ("门店", "Store"),
    "group.programs": ("会员权益", "Programs"),
    "group.marketing": ("营销", "Marketing"),
    "group.system": ("系统", "System"),
    "menu.till": ("收银台", "Till"),
    "menu.points": ("积分与等级", "Points and tiers"),
    "menu.checkin": ("签到", "Check-in"),
    "menu.lotteries": ("抽奖", "Lotteries"),
    "menu.coupons": ("优惠券模板", "Coupon templates"),
    "menu.referral": ("邀请有礼", "Referral program"),
    "menu.segments": ("会员分群", "Segments"),
    "menu.campaigns": ("营销活动", "Campaigns"),
    "menu.jobs": ("定时任务", "Scheduled jobs"),
    # sign-in and errors
    "login.title": ("员工登录", "Staff sign-in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.failed": ("用户名或密码错误。", "Wrong username or password."),
    "login.expired": ("页面已过期，请重新登录。", "The form expired; sign in again."),
    "login.rate_limited": ("尝试次数过多，请稍后再试。", "Too many attempts; try again shortly."),
    "login.no_pages": (
        "您的账号没有可用的页面，请联系管理员。",
        "Your account has no pages here; ask an admin.",
    ),
    "forbidden.title": ("无权访问", "Not allowed"),
    "forbidden.body": (
        "您的角色不能打开此页面。",
        "Your role cannot open this page.",
    ),
    "notfound.title": ("页面不存在", "Page not found"),
    "back_home": ("返回首页", "Back to start"),
    # common
    "common.save": ("保存", "Save"),
    "common.saved": ("已保存", "Saved"),
    "common.cancel": ("取消", "Cancel"),
    "common.create": ("新建", "New"),
    "common.edit": ("编辑", "Edit"),
    "common.delete": ("删除", "Delete"),
    "common.add_row": ("添加一行", "Add a row"),
    "common.remove": ("移除", "Remove"),
    "common.loading": ("加载中…", "Loading…"),
    "common.none": ("暂无", "None"),
    "common.yes": ("是", "Yes"),
    "common.no": ("否", "No"),
    "common.refresh": ("刷新", "Refresh"),
    "common.close": ("关闭", "Close"),
    "common.download_csv": ("下载 CSV", "Download CSV"),
    "common.invalid_form": ("请先修正标红的字段。", "Fix the fields marked in red first."),
    "common.yuan": ("元", "yuan"),
    "common.points": ("积分", "points"),
    "common.status": ("状态", "Status"),
    "common.name": ("名称", "Name"),
    "common.actions": ("操作", "Actions"),
    "common.not_available": (
        "此功能的接口尚未上线：{path}",
        "The API for this page is not available yet: {path}",
    ),
    "error.network": ("网络错误，请重试。", "Network error; try again."),
    "error.session_expired": (
        "登录已过期，请重新登录。",
        "Your session has expired; sign in again.",
    ),
    "error.amount": (
        "请输入金额，如 12 或 12.50。",
        "Enter an amount such as 12 or 12.50.",
    ),
    # the till
    "till.title": ("收银台", "Till"),
    "till.member_code": ("会员码", "Member code"),
    "till.member_code_hint": (
        "扫描或输入会员出示的 18 位会员码",
        "Scan or type the 18-digit code the member shows",
    ),
    "till.scan": ("扫码", "Scan"),
    "till.scan_stop": ("停止扫码", "Stop scanning"),
    "till.lookup": ("查询会员", "Find member"),
    "till.camera_unavailable": (
        "无法使用摄像头，请手动输入会员码。",
        "The camera is not available; type the code instead.",
    ),
    "till.next_member": ("下一位顾客", "Next customer"),
    "till.member": ("会员", "Member"),
    "till.member_no": ("会员号", "Member no."),
    "till.phone": ("手机", "Phone"),
    "till.tier": ("等级", "Tier"),
    "till.balance": ("积分余额", "Points balance"),
    "till.scan_valid_until": ("本次识别有效至 {time}", "This scan is valid until {time}"),
    "till.coupons": ("可用优惠券", "Usable coupons"),
    "till.no_coupons": ("没有可用的优惠券", "No usable coupons"),
    "till.use_coupon": ("使用", "Use"),
    "till.valid_until": ("有效期至 {date}", "Valid until {date}"),
    "till.order": ("订单", "Order"),
    "till.order_no": ("订单号", "Order no."),
    "till.order_amount": ("订单金额（元）", "Order amount (yuan)"),
    "till.paid_amount": ("实付金额（元）", "Amount paid (yuan)"),
    "till.record_purchase": ("记录消费", "Record purchase"),
    "till.purchase_done": (
        "已记录订单 {order}：获得 {points} 积分，余额 {balance}",
        "Order {order} recorded: {points} points earned, balance {balance}",
    ),
    "till.redeem": ("核销优惠券", "Redeem coupon"),
    "till.redeem_coupon": ("核销：{name}", "Redeem: {name}"),
    "till.preview": ("预览优惠", "Preview discount"),
    "till.preview_result": (
        "可优惠 {discount} 元，应付 {pay} 元",
        "Discount {discount} yuan; to pay {pay} yuan",
    ),
    "till.confirm_redeem": ("确认核销", "Confirm redemption"),
    "till.redeem_done": (
        "优惠券已核销，优惠 {discount} 元",
        "Coupon redeemed: {discount} yuan off",
    ),
    "till.undo_redeem": ("撤销核销", "Undo redemption"),
    "till.undo_reason": ("撤销原因", "Reason for undoing"),
    "till.undo_done": (
        "已撤销核销，优惠券可再次使用",
        "Redemption undone; the coupon is usable again",
    ),
    "till.refund": ("退款", "Refund"),
    "till.refund_no": ("退款单号", "Refund no."),
    "till.refund_amount": ("退款金额（元）", "Refund amount (yuan)"),
    "till.refund_submit": ("确认退款", "Refund"),
    "till.refund_done": (
        "已退款 {amount} 元，扣回 {points} 积分，余额 {balance}",
        "Refunded {amount} yuan; {points} points reversed, balance {balance}",
    ),
    "till.sale": ("消费", "Sale"),
    # programs
    "points.title": ("积分与等级", "Points and tiers"),
    "points.points_per_yuan": ("每消费 1 元得积分", "Points per yuan spent"),
    "points.rounding": ("取整方式", "Rounding"),
    "points.rounding.floor": ("向下取整", "Round down"),
    "points.rounding.round": ("四舍五入", "Round half up"),
    "points.rounding.ceil": ("向上取整", "Round up"),
    "points.expiry": ("积分有效期", "Points expiry"),
    "points.expiry.mode": ("过期方式", "Expiry rule"),
    "points.expiry.rolling_days": ("获得后固定天数", "A number of days after earning"),
    "points.expiry.calendar_year_end": ("到年底", "At a year's end"),
    "points.expiry.days": ("天数", "Days"),
    "points.expiry.years": ("几年后的年底（0 为当年）", "Year-ends later (0: this year)"),
    "points.tiers": ("会员等级", "Tiers"),
    "points.tier.code": ("代码", "Code"),
    "points.tier.name": ("名称", "Name"),
    "points.tier.threshold": ("门槛积分", "Threshold"),
    "points.tier.multiplier": ("积分倍率 %", "Multiplier %"),
    "checkin.title": ("签到规则", "Check-in rules"),
    "checkin.rewards": (
        "连续签到奖励（第 1 天起，每天的积分）",
        "Streak rewards (points per day, from day 1)",
    ),
    "checkin.day": ("第 {n} 天", "Day {n}"),
    "checkin.makeup_cost": ("补签消耗积分", "Make-up cost (points)"),
    "checkin.makeup_window_days": ("可补签最近几天", "Make-up window (days back)"),
    "checkin.makeup_monthly_cap": ("每月补签次数上限", "Make-ups per month"),
    # jobs
    "jobs.title": ("定时任务", "Scheduled jobs"),
    "jobs.name": ("任务", "Job"),
    "jobs.schedule": ("计划", "Schedule"),
    "jobs.next_run": ("下次运行", "Next run"),
    "jobs.last_run": ("上次运行", "Last run"),
    "jobs.outcome": ("结果", "Outcome"),
    "jobs.counts": ("计数", "Counts"),
    "jobs.error": ("错误", "Error"),
    "jobs.never": ("从未运行", "Never run"),
    "jobs.not_scheduled": ("调度器未运行", "Scheduler not running"),
    "jobs.trigger": ("触发方式", "Trigger"),
    "jobs.duration": ("耗时", "Took"),
    # known API error codes (the API's own message is shown for any other)
    "err.auth.forbidden": ("您的角色无权执行此操作。", "Your role may not do this."),
    "err.request.invalid": ("有字段不符合要求。", "Some fields are not valid."),
    "err.member_code.expired": (
        "会员码已过期，请让会员刷新后再扫。",
        "The code has expired; ask the member to refresh it.",
    ),
    "err.member_code.unknown": ("这不是有效的会员码。", "This is not a member code."),
    "err.member_code.used": (
        "此会员码已被扫描过，请让会员刷新。",
        "This code was already scanned; ask the member to refresh it.",
    ),
    "err.scan.expired": ("本次识别已过期，请重新扫码。", "The scan has expired; scan again."),
    "err.scan.not_found": ("请先扫描会员码。", "Scan the member code first."),
    "err.purchase.duplicate_order": (
        "此订单号已用于另一笔消费。",
        "This order number was used for another purchase.",
    ),
    "err.purchase.not_found": ("本店没有这个订单。", "No such order at this store."),
    "err.refund.exceeds_purchase": ("退款金额超过订单金额。", "The refund exceeds the purchase."),
    "err.coupon.used": ("优惠券已被使用。", "The coupon was already used."),
    "err.coupon.expired": ("优惠券已过期。", "The coupon has expired."),
    "err.coupon.not_yet_valid": ("优惠券尚未生效。", "The coupon is not valid yet."),
    "err.coupon.threshold_not_met": (
        "订单金额未达到使用门槛。",
        "The order is below the threshold.",
    ),
    "err.idempotency.in_progress": (
        "上一次提交仍在处理中。",
        "The last submission is still running.",
    ),
    "err.rate.limited": ("操作太频繁，请稍后再试。", "Too many requests; slow down."),
}

LANG_INDEX = {"zh": 0, "en": 1}


def translate(key: str, lang: str, **values: object) -> str:
    entry = MESSAGES.get(key)
    text = key if entry is None else entry[LANG_INDEX.get(lang, 0)]
    return text.format(**values) if values else text


def catalogue(lang: str) -> dict[str, str]:
    """Every entry in one language, for the page's scripts."""
    index = LANG_INDEX.get(lang, 0)
    return {key: entry[index] for key, entry in MESSAGES.items()}
