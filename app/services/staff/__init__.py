"""Staff accounts and stores: sign-in, administration, and who may see which store."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import AppError
from app.models import Staff, Store
from app.models.staff import CHAIN_ROLES, ROLES, STORE_ROLES
from app.services import pagination
from app.services.staff import audit, login_attempts

STAFF_CODE_CONSTRAINT = "uq_staff_staff_code"
# Checked against when the username is unknown, so both paths cost one hash.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def authenticate(session: Session, username: str, password: str) -> Staff:
    """The active staff member with these credentials, else 401 (same answer for every cause)."""
    staff = session.execute(select(Staff).where(Staff.username == username)).scalar_one_or_none()
    ok = check_password_hash(staff.password_hash if staff else _DUMMY_HASH, password)
    if staff is None or not ok or not staff.is_active:
        raise AppError("auth.invalid_credentials")
    return staff


def sign_in(session: Session, username: str, password: str, address: str) -> Staff:
    """authenticate(), with wrong passwords counted per username and address: 429 rate.limited
    beyond 5 a minute from one address, and a guess from many cannot lock out a known address."""
    attempt = login_attempts.admit(username, address)
    staff = authenticate(session, username, password)
    login_attempts.succeeded(attempt)
    return staff


def store_scope(staff: Staff) -> int | None:
    """The one store a clerk or manager acts in; None for chain-wide roles."""
    return None if staff.role in CHAIN_ROLES else staff.store_id


def require_store(staff: Staff) -> int:
    """The store a till action happens at: clerks and managers have one; others cannot."""
    if staff.store_id is None:
        raise AppError(
            "staff.store_required", message="Till actions need a staff account bound to a store."
        )
    return staff.store_id


def _validate_role(session: Session, role: str, store_id: int | None) -> None:
    if role not in ROLES:
        raise AppError(
            "request.invalid", message="Unknown role.", details={"role": [f"One of {ROLES}."]}
        )
    if role in STORE_ROLES and store_id is None:
        raise AppError(
            "request.invalid",
            message="Clerks and managers belong to a store.",
            details={"store_id": ["Required."]},
        )
    if role in CHAIN_ROLES and store_id is not None:
        raise AppError(
            "request.invalid",
            message="Marketers and admins act on all stores.",
            details={"store_id": ["Must be empty for this role."]},
        )
    if store_id is not None and session.get(Store, store_id) is None:
        raise AppError(
            "request.invalid", message="No such store.", details={"store_id": ["Unknown store."]}
        )


def create_staff(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    store_id: int | None,
    display_name: str = "",
    by: Staff | None = None,
) -> Staff:
    """A new staff account (409 staff.username_taken)."""
    _validate_role(session, role, store_id)
    password_hash = generate_password_hash(password)
    for _ in range(5):
        staff = Staff(
            username=username,
            password_hash=password_hash,
            role=role,
            store_id=store_id,
            display_name=display_name,
        )
        try:
            with session.begin_nested():
                session.add(staff)
        except IntegrityError as exc:
            if _constraint(exc) == STAFF_CODE_CONSTRAINT:
                continue  # a random staff code taken (one in a billion): draw again
            session.rollback()
            raise AppError("staff.username_taken") from exc
        break
    else:
        raise AppError("conflict", message="Could not give the account a staff code; try again.")
    if by is not None:
        audit.record(session, by, "staff.create", "staff", staff.id, {"role": role})
    session.commit()
    return staff


def _constraint(exc: IntegrityError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def update_staff(session: Session, staff_id: int, changes: dict, by: Staff) -> Staff:
    staff = get_staff(session, staff_id)
    role = changes.get("role", staff.role)
    store_id = changes.get("store_id", staff.store_id)
    _validate_role(session, role, store_id)
    if staff.id == by.id and (changes.get("is_active") is False or role != staff.role):
        raise AppError("staff.self_lockout")
    staff.role, staff.store_id = role, store_id
    for field in ("display_name", "is_active"):
        if field in changes:
            setattr(staff, field, changes[field])
    if changes.get("password"):
        staff.password_hash = generate_password_hash(changes["password"])
    logged = {k: v for k, v in changes.items() if k != "password"}
    audit.record(session, by, "staff.update", "staff", staff.id, logged)
    session.commit()
    return staff


def list_staff(session: Session, limit: int, cursor: int | None) -> pagination.Page:
    """Every staff account, newest first (deactivated ones too: they stay for the audit)."""
    return pagination.page(session, select(Staff), Staff.id, limit, cursor)


def get_staff(session: Session, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise AppError("not_found", message="No such staff member.")
    return staff


def create_store(session: Session, fields: dict, by: Staff | None = None) -> Store:
    store = Store(**fields)
    session.add(store)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise AppError("store.code_taken") from exc
    if by is not None:
        audit.record(session, by, "store.create", "store", store.id, fields)
    session.commit()
    return store


def list_stores(session: Session, limit: int, cursor: int | None) -> pagination.Page:
    """Every store, newest first (closed ones too)."""
    return pagination.page(session, select(Store), Store.id, limit, cursor)


def get_store(session: Session, store_id: int) -> Store:
    store = session.get(Store, store_id)
    if store is None:
        raise AppError("not_found", message="No such store.")
    return store


def update_store(session: Session, store_id: int, changes: dict, by: Staff) -> Store:
    store = get_store(session, store_id)
    for field, value in changes.items():
        setattr(store, field, value)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise AppError("store.code_taken") from exc
    audit.record(session, by, "store.update", "store", store.id, changes)
    session.commit()
    return store
