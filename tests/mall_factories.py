"""Factories for the points mall's tests: an item of either kind."""

from __future__ import annotations

import pytest


@pytest.fixture
def make_item(session):
    from app.models.mall import MallItem

    def make(**fields) -> MallItem:
        values = {
            "name": "保温杯",
            "kind": "goods",
            "cost_points": 100,
            "stock_total": 10,
            "limit_per_member": 1,
            "tiers": None,
            "image_url": "https://img.example.com/cup.png",
        }
        values.update(fields)
        item = MallItem(**values)
        session.add(item)
        session.commit()
        return item

    return make
