"""`flask --app wsgi staff create USERNAME --role ROLE [--store ID] --password PASSWORD`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.errors import AppError
from app.extensions import db
from app.models.staff import ROLES
from app.services import staff as staff_service

staff_cli = AppGroup("staff", help="Staff accounts.")


@staff_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--store", "store_id", type=int, default=None, help="Store id (clerk, manager).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create(username: str, role: str, store_id: int | None, password: str) -> None:
    """Create a staff account."""
    if len(password) < 8:
        raise click.BadParameter("use at least 8 characters", param_hint="--password")
    try:
        staff = staff_service.create_staff(
            db.session, username=username, password=password, role=role, store_id=store_id
        )
    except AppError as err:
        raise click.ClickException(f"{err.code}: {err.message} {err.details or ''}") from err
    click.echo(f"created staff {staff.id} {staff.username} ({staff.role}, store {staff.store_id})")
