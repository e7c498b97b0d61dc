"""The seam to audiences (issue 5): which members a campaign's audience filter selects.

With app.services.audiences installed, its filter language is the one used. Until then a small
filter stands in: {"store_ids": [...]} (members who signed up at those stores), or {} for all.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.errors import AppError
from app.models import Member


def _audiences():
    try:
        from app.services import audiences
    except ImportError:
        return None
    return audiences


def validate(audience: dict) -> dict:
    """The filter as stored (422 request.invalid when it is not one)."""
    audiences = _audiences()
    if audiences is not None:
        import marshmallow as ma

        from app.schemas.audiences import AudienceFilterSchema

        try:
            AudienceFilterSchema().load(audience)
        except ma.ValidationError as exc:
            raise AppError(
                "request.invalid",
                422,
                "The audience filter is not valid.",
                {"audience": exc.messages},
            ) from exc
        return audience
    unknown = set(audience) - {"store_ids"}
    store_ids = audience.get("store_ids")
    if unknown or (
        store_ids is not None
        and (not isinstance(store_ids, list) or not all(isinstance(i, int) for i in store_ids))
    ):
        raise AppError(
            "request.invalid",
            422,
            "The audience filter is not valid.",
            {"audience": ['Use {} or {"store_ids": [ids]}.']},
        )
    return audience


def member_ids_query(audience: dict) -> Select:
    """SELECT of the ids of the members the filter selects."""
    audiences = _audiences()
    if audiences is not None:
        from app.schemas.audiences import AudienceFilterSchema

        return audiences.member_ids_query(AudienceFilterSchema().load(audience))
    query = select(Member.id.label("member_id"))
    if audience.get("store_ids"):
        query = query.where(Member.store_id.in_(audience["store_ids"]))
    return query


def count(session: Session, audience: dict) -> int:
    from sqlalchemy import func

    sub = member_ids_query(audience).subquery()
    return int(session.execute(select(func.count()).select_from(sub)).scalar_one())
