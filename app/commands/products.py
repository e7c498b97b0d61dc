"""`flask --app wsgi products import FILE`: the product file (sku, name, category, brand)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.commands.orders import echo_bad_lines
from app.db_timeouts import job_timeouts
from app.extensions import db
from app.services.products import product_import

products_cli = AppGroup("products", help="The product table (sku, name, category, brand).")


@products_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_file(path: str) -> None:
    """Create or update products from a CSV file; safe to run twice."""
    # utf-8-sig: spreadsheets often save CSV with a byte-order mark.
    with job_timeouts(current_app), open(path, encoding="utf-8-sig", newline="") as handle:
        report = product_import.import_products(db.session, handle)
    echo_bad_lines(report.bad)
    counts = report.as_dict()
    click.echo(
        f"{counts['lines']} lines: {counts['created']} products created, {counts['updated']} "
        f"updated, {counts['unchanged']} unchanged, {counts['bad']} bad lines skipped"
    )
