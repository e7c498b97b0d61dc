"""WeChat's field rules, checked before anything is queued."""

from __future__ import annotations

from datetime import date

import pytest

from app.errors import AppError
from app.services.messaging import message_templates as mt


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("thing1", "二十个字以内的事项说明", True),
        ("thing1", "字" * 21, False),
        ("number2", "12345", True),
        ("number2", "12a", False),
        ("date3", "2026年12月31日", True),
        ("date3", "明天", False),
        ("time4", "15:01", True),
        ("time4", "25:01", False),
        ("phrase5", "已过期", True),
        ("phrase5", "即将过期了哦", False),
        ("phrase5", "ok", False),
        ("character_string6", "ORDER-001", True),
        ("character_string6", "订单1", False),
        ("amount7", "¥12.50", True),
        ("amount7", "12.50元", True),
        ("amount7", "¥¥1", False),
        ("name8", "张三", True),
        ("name8", "张" * 11, False),
        ("letter9", "abc", True),
        ("symbol10", "%", True),
        ("phone_number11", "+86 138-0013-8000", True),
        ("car_number12", "沪A12345", True),
        ("thing13", "", False),
        ("thing14", "两行\n文字", False),
    ],
)
def test_field_rules(key, value, ok):
    assert (mt.field_errors({key: value}) == {}) is ok


def test_official_account_fields_are_at_most_20_characters():
    assert mt.field_errors({"number1": "1" * 21}, official_account=True)
    assert not mt.field_errors({"number1": "1" * 21})


def test_templates_are_checked_with_the_widest_member_values():
    mt.check_template({"template_id": "t", "data": {"name1": "{nickname}", "number2": "{balance}"}})
    with pytest.raises(AppError) as caught:
        mt.check_template(
            {"template_id": "t", "data": {"thing1": "亲爱的{nickname}，积分就要过期了"}}
        )
    assert caught.value.details["template"]["thing1"].startswith("thing")
    filled = mt.fill(
        {"template_id": "t", "data": {"name1": "{nickname}", "date2": "{expires_on}"}},
        {"nickname": "一个很长很长很长很长的昵称", "expires_on": date(2026, 1, 2)},
    )
    assert filled == {
        "name1": {"value": "一个很长很长很长很长"},
        "date2": {"value": "2026年1月2日"},
    }
