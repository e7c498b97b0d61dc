"""One transaction per use case: services flush, the entry point commits once.

The entry point (an `@idempotent` handler, a job runner) owns the transaction. While it holds
work that must commit with the use case's own (the answer stored under an Idempotency-Key), it
runs the use case `atomic`: a service that has a faster path outside the session (check-in's one
autocommitted statement) then runs inside the caller's transaction instead, a refusal can be
rolled back without losing what the caller did before it, and a service that commits by mistake
fails loudly instead of committing half of the unit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

_ATOMIC = "huiyuan.atomic"


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
