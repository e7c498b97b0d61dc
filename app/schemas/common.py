from __future__ import annotations

import marshmallow as ma
from flask import current_app

from app.services import pagination

CURSOR_MAX_LENGTH = 200


class Cursor(ma.fields.String):
    """A page's position: loads a `?cursor=` into the id the page starts after, dumps a page's
    last id as the signed cursor (see services.pagination). A cursor we did not hand out is
    422 request.invalid; an empty one is no cursor (the first page)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return pagination.encode_cursor(value, current_app.config["SECRET_KEY"])

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text:
            return None
        if len(text) > CURSOR_MAX_LENGTH:
            raise ma.ValidationError(f"Longer than {CURSOR_MAX_LENGTH} characters.")
        try:
            return pagination.decode_cursor(text, current_app.config["SECRET_KEY"])
        except ValueError as exc:
            raise ma.ValidationError(
                "Not a cursor this list handed out; start again without one."
            ) from exc


def cursor_arg() -> Cursor:
    # The length is checked before the signature (validators would see the loaded id).
    return Cursor(load_default=None, metadata={"maxLength": CURSOR_MAX_LENGTH})


def next_cursor_field() -> Cursor:
    return Cursor(allow_none=True, required=True)


class ChangesSchema(ma.Schema):
    """The body of a PATCH: the fields to change, at least one. A PATCH that changes nothing
    (no body, `{}`) is a client mistake, 422 request.invalid; it is checked after the caller's
    role, like every field."""

    @ma.validates_schema
    def names_a_change(self, data, **_):
        if not data:
            raise ma.ValidationError("Send at least one field to change.")


class PageArgsSchema(ma.Schema):
    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))
    cursor = cursor_arg()


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """`{"items": [...], "next_cursor": str | null}` for one item schema."""
    return type(
        name,
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": next_cursor_field(),
        },
    )


class WholeListSchema(ma.Schema):
    """The page shape for a list that is never paged: a service returns the list, and the
    answer is `{"items": [...], "next_cursor": null}`."""

    @ma.pre_dump
    def one_page(self, items, **_):
        return {"items": list(items), "next_cursor": None}


def computed(field_cls: type[ma.fields.Field], compute, **kwargs) -> ma.fields.Field:
    """A dump-only field of `field_cls`'s type whose value is `compute(obj)`: a figure derived
    from the object (its description, its status now), documented with its real type."""

    class Computed(field_cls):
        def get_value(self, obj, attr, accessor=None, default=ma.missing):
            return compute(obj)

    return Computed(dump_only=True, **kwargs)


class _ModelAndFigures:
    """Attribute access over a typed result: its own fields first, then its model's."""

    __slots__ = ("_result",)

    def __init__(self, result):
        self._result = result

    def __getattr__(self, name):
        if name in self._result._fields:
            return getattr(self._result, name)
        return getattr(self._result[0], name)


class ModelResultSchema(ma.Schema):
    """Dumps a typed result that carries a model and a few figures about it (a NamedTuple whose
    first field is the model): a field is read from the result when the result has it, else
    from the model. So `ClaimableTemplate(template, claimed_by_me=2)` dumps as the template's
    fields plus `claimed_by_me`."""

    @ma.pre_dump
    def model_and_figures(self, result, **_):
        return _ModelAndFigures(result)


def whole_list_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    return type(
        name,
        (WholeListSchema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": ma.fields.String(allow_none=True, required=True),
        },
    )


class TierSchema(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class PingSchema(ma.Schema):
    """The signed-in member's id, with `ok: true`."""

    ok = ma.fields.Boolean(required=True)
    member_id = ma.fields.Integer(required=True)

    @ma.pre_dump
    def of_member(self, member_id, **_):
        return {"ok": True, "member_id": member_id}


def format_arg() -> ma.fields.String:
    """`?format=csv`: a figure as a CSV file instead of JSON (the console's downloads)."""
    return ma.fields.String(
        load_default="json",
        validate=ma.validate.OneOf(("json", "csv")),
        metadata={"description": "`csv`: the figure as a CSV file (UTF-8 with BOM); JSON else"},
    )
