"""`flask --app wsgi keys rotate [--batch N]`: re-encrypt data at rest under the newest key."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.db_timeouts import job_timeouts
from app.extensions import db
from app.services import data_keys

keys_cli = AppGroup("keys", help="The keys that protect data at rest.")


@keys_cli.command("rotate")
@click.option("--batch", default=data_keys.BATCH, show_default=True, type=click.IntRange(1, 50000))
def rotate(batch: int) -> None:
    """Re-encrypt phones, session keys and POS secrets under the first DATA_ENCRYPTION_KEY and
    rehash phones under PHONE_HASH_KEY, in batches (safe to stop and run again)."""
    with job_timeouts(current_app):
        done = data_keys.rotate_all(
            db.session,
            batch=batch,
            progress=lambda d: click.echo(f"... {d.members} members", err=True),
        )
    click.echo(
        f"{done.members} members and {done.pos_keys} POS keys re-encrypted; "
        f"{done.unreadable} unreadable (encrypted under a key no longer configured)"
    )
    if done.unreadable:
        raise SystemExit(1)
