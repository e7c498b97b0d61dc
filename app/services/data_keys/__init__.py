"""Rotating the keys that protect data at rest: every encrypted value re-encrypted under the
first DATA_ENCRYPTION_KEY, every phone's hash made again under PHONE_HASH_KEY.

Set-based in batches: a batch of BATCH rows is read in id order (keyset), re-encrypted in Python
(the keys are never in the database) and written back with one UPDATE ... FROM unnest, committed
on its own, so a rotation of millions of rows holds no long transaction and can be stopped and run
again (running it twice is harmless). A row that changed since its batch was read (a member bound
a new phone) is left as it is: the app wrote it under the current keys already. A value that no
configured key opens (its key was dropped from the list too early) is counted and left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from app import encryption

BATCH = 2000


@dataclass
class Rotation:
    members: int = 0
    pos_keys: int = 0
    unreadable: int = 0

    def as_dict(self) -> dict:
        return {"members": self.members, "pos_keys": self.pos_keys, "unreadable": self.unreadable}


_MEMBERS = text(
    """
    SELECT id, phone_encrypted, session_key_encrypted FROM members
    WHERE id > :after AND (phone_encrypted IS NOT NULL OR session_key_encrypted IS NOT NULL)
    ORDER BY id LIMIT :n
    """
)
_MEMBERS_WRITE = text(
    """
    UPDATE members m
    SET phone_encrypted = v.pe, phone_hash = v.ph, session_key_encrypted = v.sk
    FROM unnest(CAST(:ids AS bigint[]), CAST(:old_pe AS text[]), CAST(:old_sk AS text[]),
                CAST(:pe AS text[]), CAST(:ph AS text[]), CAST(:sk AS text[]))
         AS v(id, old_pe, old_sk, pe, ph, sk)
    WHERE m.id = v.id AND m.phone_encrypted IS NOT DISTINCT FROM v.old_pe
      AND m.session_key_encrypted IS NOT DISTINCT FROM v.old_sk
    """
)
_POS_KEYS = text("SELECT id, secret_encrypted FROM pos_keys WHERE id > :after ORDER BY id LIMIT :n")
_POS_KEYS_WRITE = text(
    """
    UPDATE pos_keys k SET secret_encrypted = v.new
    FROM unnest(CAST(:ids AS bigint[]), CAST(:old AS text[]), CAST(:new AS text[]))
         AS v(id, old, new)
    WHERE k.id = v.id AND k.secret_encrypted = v.old
    """
)


def rotate_all(
    session: Session, batch: int = BATCH, progress: Callable[[Rotation], None] | None = None
) -> Rotation:
    """Re-encrypt members' phones and session keys and POS keys' secrets under the first
    DATA_ENCRYPTION_KEY and make every phone's hash again under PHONE_HASH_KEY; one commit a
    batch. The counts are of rows rewritten; `unreadable` of rows no configured key opens."""
    done = Rotation()
    after = 0
    while rows := session.execute(_MEMBERS, {"after": after, "n": batch}).all():
        after = rows[-1].id
        readable = []
        for row in rows:
            try:
                phone = encryption.decrypt_or_none(row.phone_encrypted)
                session_key = encryption.decrypt_or_none(row.session_key_encrypted)
            except encryption.InvalidToken:
                done.unreadable += 1
                continue
            readable.append((row, phone, session_key))
        if readable:
            done.members += session.execute(
                _MEMBERS_WRITE,
                {
                    "ids": [r.id for r, _, _ in readable],
                    "old_pe": [r.phone_encrypted for r, _, _ in readable],
                    "old_sk": [r.session_key_encrypted for r, _, _ in readable],
                    "pe": [encryption.encrypt(p) if p else None for _, p, _ in readable],
                    "ph": [encryption.phone_hash(p) for _, p, _ in readable],
                    "sk": [encryption.encrypt(k) if k else None for _, _, k in readable],
                },
            ).rowcount
        session.commit()
        if progress is not None:
            progress(done)
    after = 0
    while rows := session.execute(_POS_KEYS, {"after": after, "n": batch}).all():
        after = rows[-1].id
        ids, old, new = [], [], []
        for row in rows:
            try:
                new.append(encryption.rotate(row.secret_encrypted))
            except encryption.InvalidToken:
                done.unreadable += 1
                continue
            ids.append(row.id)
            old.append(row.secret_encrypted)
        if ids:
            done.pos_keys += session.execute(
                _POS_KEYS_WRITE, {"ids": ids, "old": old, "new": new}
            ).rowcount
        session.commit()
    return done
