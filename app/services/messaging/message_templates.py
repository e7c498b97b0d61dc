"""Template data: WeChat's field rules, and filling a template's fields from a member's values.

A template is {"template_id": ..., "data": {"thing1": "您的{expiring_points}积分即将过期", ...}}:
each key's type prefix (thing, number, date, phrase, ...) decides what WeChat accepts, and WeChat
refuses an over-long value rather than truncating it, so we check before anything is queued.
"""

from __future__ import annotations

import re
import string
from datetime import date

from app.errors import AppError

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TIME = re.compile(
    r"^(\d{4}年\d{1,2}月\d{1,2}日 |\d{4}-\d{2}-\d{2} )?([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?$"
)
_DATE = re.compile(r"^(\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{2}-\d{2})( ([01]?\d|2[0-3]):[0-5]\d)?$")
_AMOUNT = re.compile(r"^[¥$€£]?\d{1,10}(\.\d{1,2})?元?$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_KEY = re.compile(r"^([a-z_]+?)(\d+)$")

# What each placeholder may be filled with (the member fields a campaign can map).
PLACEHOLDERS = (
    "nickname",
    "balance",
    "expiring_points",
    "expires_on",
    "member_no",
    "today",
    "tier_name",  # the tier_downgrade_notice's (issue 19): the tier kept in grace and the day
    "downgrade_on",  # it is lost; "-" in other messages
    "membership_ends_on",  # the paid membership's last day (its messages' params)
)
NICKNAME_CHARS = 10  # a nickname is shortened to this many characters (WeChat's `name` limit)
TIER_NAME_CHARS = 10  # likewise a tier's name (up to 32 in the points program)


def _rule_error(key: str, value: str) -> str | None:
    """Why WeChat would refuse `value` for field `key` (None when it is fine)."""
    match = _KEY.match(key)
    kind = match.group(1) if match else key
    if value == "":
        return "must not be empty"
    if "\n" in value or "\r" in value:
        return "must not contain line breaks"
    n = len(value)
    if kind == "thing":
        return None if n <= 20 else "thing: at most 20 characters"
    if kind == "number":
        digits = sum(c.isdigit() for c in value)
        return None if _NUMBER.match(value) and digits <= 32 else "number: digits only, at most 32"
    if kind == "letter":
        return None if value.isascii() and value.isalpha() and n <= 32 else "letter: ≤ 32 letters"
    if kind == "symbol":
        return None if n <= 5 else "symbol: at most 5 characters"
    if kind == "character_string":
        ok = n <= 32 and not _CJK.search(value) and value.isascii()
        return None if ok else "character_string: ≤ 32 letters, digits or symbols, no Chinese"
    if kind == "time":
        return None if _TIME.match(value) else "time: 24-hour time such as 15:01"
    if kind == "date":
        return None if _DATE.match(value) else "date: such as 2019年10月1日"
    if kind == "amount":
        return None if _AMOUNT.match(value) else "amount: one currency sign, ≤ 10 digits"
    if kind == "phone_number":
        ok = n <= 17 and re.fullmatch(r"[+\d\- ]+", value)
        return None if ok else "phone_number: ≤ 17 digits"
    if kind == "car_number":
        return None if n <= 8 else "car_number: at most 8 characters"
    if kind == "name":
        chinese = bool(_CJK.search(value))
        return None if n <= (10 if chinese else 20) else "name: ≤ 10 Chinese or ≤ 20 letters"
    if kind == "phrase":
        ok = n <= 5 and all(_CJK.match(c) for c in value)
        return None if ok else "phrase: at most 5 Chinese characters"
    return f"unknown field type {kind!r}"


def field_errors(data: dict[str, str], official_account: bool = False) -> dict[str, str]:
    """Every field WeChat would refuse, with why; OA template fields are also ≤ 20 characters."""
    errors = {}
    for key, value in data.items():
        problem = _rule_error(key, value)
        if problem is None and official_account and len(value) > 20:
            problem = "official-account fields: at most 20 characters"
        if problem:
            errors[key] = problem
    return errors


def placeholders_in(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def check_template(spec: dict, official_account: bool = False, where: str = "template") -> None:
    """Refuse a template whose fields cannot satisfy WeChat's rules whatever the member (422).

    Placeholders are checked with the widest value each can take (a 10-character nickname, an
    8-digit number, a date written 2026年12月31日), so a template that passes here never fails
    WeChat's rules when it is filled in for a member.
    """
    errors: dict[str, str] = {}
    if not spec.get("template_id"):
        errors["template_id"] = "required"
    data = spec.get("data") or {}
    if not data:
        errors["data"] = "at least one field"
    widest = {
        "nickname": "测" * NICKNAME_CHARS,
        "balance": "99999999",
        "expiring_points": "99999999",
        "expires_on": "2026年12月31日",
        "member_no": "800000000000",
        "today": "2026年12月31日",
        "tier_name": "测" * TIER_NAME_CHARS,
        "downgrade_on": "2026年12月31日",
        "membership_ends_on": "2026年12月31日",
    }
    for key, text in data.items():
        if not isinstance(text, str):
            errors[key] = "must be text"
            continue
        unknown = placeholders_in(text) - set(PLACEHOLDERS)
        if unknown:
            errors[key] = f"unknown placeholder {sorted(unknown)[0]!r}"
            continue
        try:
            filled = text.format(**widest)
        except (ValueError, IndexError, KeyError):
            errors[key] = "malformed placeholder"
            continue
        problem = field_errors({key: filled}, official_account).get(key)
        if problem:
            errors[key] = problem
    if errors:
        raise AppError(
            "message.invalid_template",
            message="The template's fields break WeChat's rules.",
            details={where: errors},
        )


def _zh_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def fill(spec: dict, values: dict, official_account: bool = False) -> dict:
    """The WeChat `data` for one member: {key: {"value": text}}; ValueError if a rule breaks."""
    shown = {
        "nickname": (values.get("nickname") or "会员")[:NICKNAME_CHARS],
        "balance": str(int(values.get("balance") or 0)),
        "expiring_points": str(int(values.get("expiring_points") or 0)),
        "expires_on": _zh_date(values["expires_on"]) if values.get("expires_on") else "-",
        "member_no": str(values.get("member_no") or ""),
        "today": _zh_date(values["today"]) if values.get("today") else "-",
        "tier_name": (values.get("tier_name") or "-")[:TIER_NAME_CHARS],
        "downgrade_on": _zh_date(values["downgrade_on"]) if values.get("downgrade_on") else "-",
        "membership_ends_on": _zh_date(values["membership_ends_on"])
        if values.get("membership_ends_on")
        else "-",
    }
    data = {key: text.format(**shown) for key, text in (spec.get("data") or {}).items()}
    errors = field_errors(data, official_account)
    if errors:
        key = sorted(errors)[0]
        raise ValueError(f"{key}: {errors[key]}")
    return {key: {"value": value} for key, value in data.items()}
