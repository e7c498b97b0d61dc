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
