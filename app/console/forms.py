"""HTML input constraints read from the API's marshmallow schemas.

The console's forms check ranges, lengths, patterns and choices in the browser before saving; the
limits come from the very schemas the API validates with, so the two cannot drift apart. The API
still validates everything: these attributes only save a round trip.
"""

from __future__ import annotations

import marshmallow as ma
from markupsafe import Markup, escape


def _field(schema: type[ma.Schema] | ma.Schema, name: str) -> ma.fields.Field:
    instance = schema() if isinstance(schema, type) else schema
    field = instance.fields[name]
    if isinstance(field, ma.fields.List):
        return field.inner
    return field


def constraints(schema: type[ma.Schema] | ma.Schema, name: str) -> dict[str, str]:
    """The HTML attributes (required, min, max, minlength, maxlength, pattern) for one field."""
    instance = schema() if isinstance(schema, type) else schema
    outer = instance.fields[name]
    field = _field(instance, name)
    attrs: dict[str, str] = {}
    if outer.required and not isinstance(outer, ma.fields.List):
        attrs["required"] = "required"
    default = outer.load_default
    if isinstance(default, int | str) and not isinstance(default, bool) and default != "":
        attrs["placeholder"] = str(default)  # what the API uses when the field is left empty
    validators = list(field.validators)
    if isinstance(field, ma.fields.Integer | ma.fields.Float):
        attrs["step"] = "1" if isinstance(field, ma.fields.Integer) else "any"
    for validator in validators:
        if isinstance(validator, ma.validate.Range):
            if validator.min is not None:
                attrs["min"] = str(validator.min)
            if validator.max is not None:
                attrs["max"] = str(validator.max)
        elif isinstance(validator, ma.validate.Length):
            if validator.min is not None:
                attrs["minlength"] = str(validator.min)
            if validator.max is not None:
                attrs["maxlength"] = str(validator.max)
            if validator.equal is not None:
                attrs["minlength"] = attrs["maxlength"] = str(validator.equal)
        elif isinstance(validator, ma.validate.Regexp):
            pattern = validator.regex.pattern
            # HTML patterns are anchored already; drop the anchors the schema spells out.
            attrs["pattern"] = pattern.removeprefix("^").removesuffix("$")
    return attrs


def choices(schema: type[ma.Schema] | ma.Schema, name: str) -> list[str]:
    """The allowed values of a field validated by OneOf (empty when it has none)."""
    for validator in _field(schema, name).validators:
        if isinstance(validator, ma.validate.OneOf):
            return [str(choice) for choice in validator.choices]
    return []


def html_attrs(attrs: dict[str, str]) -> Markup:
    return Markup(" ").join(Markup(f'{escape(k)}="{escape(v)}"') for k, v in attrs.items())


def list_length(schema: type[ma.Schema] | ma.Schema, name: str) -> dict[str, int | None]:
    """How many items a list field may hold (its Length validator), for add/remove row buttons."""
    instance = schema() if isinstance(schema, type) else schema
    for validator in instance.fields[name].validators:
        if isinstance(validator, ma.validate.Length):
            return {"min": validator.min, "max": validator.max}
    return {"min": None, "max": None}
