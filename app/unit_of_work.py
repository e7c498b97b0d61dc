"""One transaction per use case: services flush, the entry point commits once.

The entry point (an `@idempotent` handler, a job runner) owns the transaction. While it holds
work that must commit with the use case's own (the answer stored under an Idempotency-Key), it
runs the use case `atomic`: a service that has a faster path outside the session (check-in's one
autocommitted statement) then runs inside the caller's transaction instead, a refusal can be
rolled back without losing what the caller did before it, and a service that commits by mistake
fails loudly instead of committing half of the unit.

A transaction that PostgreSQL aborts for a deadlock (SQLSTATE 40P01) or a serialization failure
(40001) did nothing: the entry point runs it again (`retrying`, 3 attempts with a short jittered
pause) instead of answering 503 for a database that is up. Spent attempts answer 409 `conflict`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction

from app.errors import Contention, aborted_by_contention

log = logging.getLogger("huiyuan.unit_of_work")

_ATOMIC = "huiyuan.atomic"
ATTEMPTS = 3
# The pause before attempt n+1 is uniform in [0, PAUSE * 2**(n-1)]: the two sides of a deadlock
# do not meet again at once. PostgreSQL needs deadlock_timeout (1 s) to see a deadlock, so these
# pauses are small beside what a deadlock already cost.
PAUSE_SECONDS = 0.05

T = TypeVar("T")


def retrying(session, attempt: Callable[[], T], what: str = "transaction") -> T:
    """Run `attempt` (a whole transaction, commit included) up to ATTEMPTS times while
    PostgreSQL aborts it for a deadlock or a serialization failure; 409 conflict after that."""
    for number in range(1, ATTEMPTS + 1):
        try:
            return attempt()
        except DBAPIError as exc:
            if not aborted_by_contention(exc):
                raise
            session.rollback()
            log.warning(
                "%s aborted by the database (%s), attempt %d of %d",
                what,
                exc.orig.sqlstate,
                number,
                ATTEMPTS,
            )
            if number == ATTEMPTS:
                raise Contention() from exc
            time.sleep(random.uniform(0, PAUSE_SECONDS * 2 ** (number - 1)))
    raise AssertionError("unreachable")


def is_atomic(session) -> bool:
    """Whether the caller's transaction carries work that this use case must commit with."""
    return session.info.get(_ATOMIC) is not None


@contextlib.contextmanager
def atomic(session) -> Iterator[SessionTransaction]:
    """Run the block inside the caller's transaction, behind a savepoint (yielded: roll it back
    to undo the block alone). The caller commits after the block, once."""
    savepoint = session.begin_nested()
    session.info[_ATOMIC] = savepoint
    try:
        yield savepoint
    finally:
        session.info.pop(_ATOMIC, None)


class CommitInsideUnitOfWork(RuntimeError):
    """A service committed inside an atomic block: its work and the caller's would part."""


@event.listens_for(Session, "before_commit")
def _refuse_commit_inside_atomic(session: Session) -> None:
    # Only a commit of the whole transaction reaches here while the block's own savepoint is the
    # innermost one (the block never releases it; a service's nested savepoint may come and go).
    savepoint = session.info.get(_ATOMIC)
    if savepoint is not None and session.get_nested_transaction() is savepoint:
        raise CommitInsideUnitOfWork(
            "a service committed inside an atomic unit of work; services flush, the entry "
            "point commits"
        )


# --- An Idempotency-Key claimed by the use case's own statement -------------------------------
# A use case that is one statement (a coupon claim) can carry the key's claim in it: the key's
# row is inserted, under its advisory lock, by the same statement that does the work, and the
# work's CTEs run only if it was. A keyed request then costs the unkeyed one's statement plus
# the UPDATE that stores the answer. The endpoint opts in (`@idempotent(folded=True)`); its use
# case calls `folded_key_claim` and, after its statement, `KeyClaim.record`.

_KEY_CLAIM = "huiyuan.key_claim"


class KeyTaken(Exception):
    """The folded statement did not get the key (held, or used before): the work did not run."""


class KeyClaim:
    """The key's claim as SQL for a use case's statement: `ctes` defines `key_claimed` (one row,
    `got` and `id`: whether the advisory lock was got, and the new row's id, or NULL when the
    key has a row already); the use case adds `params` to its own and guards its work with
    `EXISTS (SELECT FROM key_claimed WHERE id IS NOT NULL)`."""

    def __init__(self, ctes: str, params: dict):
        self.ctes = ctes
        self.params = params
        self.ran = False
        self.got: bool | None = None
        self.row_id: int | None = None

    def record(self, got: bool, row_id: int | None) -> None:
        """What the statement said of the key; KeyTaken (the work did nothing) unless claimed."""
        self.ran, self.got, self.row_id = True, bool(got), row_id
        if not got or row_id is None:
            raise KeyTaken()


def folded_key_claim(session) -> KeyClaim | None:
    """The key's claim to fold into this use case's statement, if the entry point left it."""
    return session.info.get(_KEY_CLAIM)


@contextlib.contextmanager
def folded(session, claim: KeyClaim) -> Iterator[None]:
    """Run the block in the caller's transaction (is_atomic) with the key's claim to fold in;
    no savepoint: a folded use case refuses before it writes, or its statement wrote nothing."""
    session.info[_ATOMIC] = claim
    session.info[_KEY_CLAIM] = claim
    try:
        yield
    finally:
        session.info.pop(_ATOMIC, None)
        session.info.pop(_KEY_CLAIM, None)
