"""What a member has: purchases (GET /api/v1/me/purchases) and draws (GET /api/v1/me/draws)."""

from __future__ import annotations

import marshmallow as ma

from app.schemas.common import page_schema


class NamedRefSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class PurchaseLineSchema(ma.Schema):
    sku = ma.fields.String()
    name = ma.fields.String()
    category = ma.fields.String()
    quantity = ma.fields.Integer()
    unit_price_fen = ma.fields.Integer()
    amount_fen = ma.fields.Integer()
    refunded_fen = ma.fields.Integer(metadata={"description": "given back by refunds by line"})


class MyPurchaseSchema(ma.Schema):
    order_no = ma.fields.String(required=True)
    store = ma.fields.Nested(NamedRefSchema, required=True)
    amount_fen = ma.fields.Integer(required=True)
    refunded_fen = ma.fields.Integer(required=True)
    points_awarded = ma.fields.Integer(required=True)
    points_reversed = ma.fields.Integer(
        metadata={"description": "earned points taken back by refunds"}
    )
    points_redeemed = ma.fields.Integer(required=True)
    discount_fen = ma.fields.Integer(metadata={"description": "taken off by points"})
    coupon_discount_fen = ma.fields.Integer(metadata={"description": "taken off by coupons"})
    paid_at = ma.fields.AwareDateTime(required=True)
    lines = ma.fields.List(
        ma.fields.Nested(PurchaseLineSchema),
        required=True,
        metadata={"description": "the order's lines once the till or the POS sends them"},
    )


MyPurchasePageSchema = page_schema(MyPurchaseSchema, "MyPurchasePageSchema")


class DrawnPrizeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "points, coupon or physical"})
    points = ma.fields.Integer(allow_none=True)
    coupon_id = ma.fields.Integer(allow_none=True)


class MyDrawSchema(ma.Schema):
    draw_id = ma.fields.Integer(required=True)
    lottery = ma.fields.Nested(NamedRefSchema, required=True)
    prize = ma.fields.Nested(DrawnPrizeSchema, allow_none=True, required=True)
    status = ma.fields.String(
        required=True,
        metadata={"description": "no_prize, awarded, awaiting_pickup or collected"},
    )
    points_spent = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime(required=True)
    collected_at = ma.fields.AwareDateTime(allow_none=True)


MyDrawPageSchema = page_schema(MyDrawSchema, "MyDrawPageSchema")
