"""`flask --app wsgi orders import FILE --format cdnow|csv|lines [--store CODE]`."""

from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app.db_timeouts import job_timeouts
from app.extensions import db
from app.services.till import order_import
from app.services.till.order_rows import FORMATS

orders_cli = AppGroup("orders", help="Historical purchases.")

MAX_BAD_LINES_SHOWN = 50


def echo_bad_lines(bad: list) -> None:
    """The first bad lines of a file as `line N: reason` on stderr, then how many more."""
    for row in bad[:MAX_BAD_LINES_SHOWN]:
        click.echo(f"line {row.line}: {row.reason}", err=True)
    if len(bad) > MAX_BAD_LINES_SHOWN:
        click.echo(f"... and {len(bad) - MAX_BAD_LINES_SHOWN} more bad lines", err=True)


@orders_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--store", "store_code", default=None, help="Store code for lines naming none.")
def import_file(path: str, fmt: str, store_code: str | None) -> None:
    """Load historical purchases; safe to run twice (already imported orders are skipped)."""
    # utf-8-sig: spreadsheets often save CSV with a byte-order mark.
    with (
        job_timeouts(current_app),  # a big file's statements may run for minutes
        open(path, encoding="utf-8-sig", newline="") as handle,
        _progress_bar(path) as progress,
    ):
        report = order_import.import_orders(
            db.session, _counted(handle, progress), fmt, store_code=store_code
        )
    echo_bad_lines(report.bad)
    counts = report.as_dict()
    stored = f", {counts['lines_stored']} order lines stored" if fmt == "lines" else ""
    click.echo(
        f"{counts['lines']} lines: {counts['imported']} purchases imported, "
        f"{counts['already_imported']} already imported, {counts['members_created']} members "
        f"created, {counts['bad']} bad lines skipped{stored}"
    )


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def _progress_bar(path: str):
    """A bar of the file's bytes read, on a terminal only (logs and pipes get the summary)."""
    if not sys.stderr.isatty():
        return _NoBar()
    return click.progressbar(length=os.path.getsize(path), label="reading", file=sys.stderr)


def _counted(handle, progress):
    """The file's lines, moving the bar by their length (characters: close to bytes)."""
    for line in handle:
        progress.update(len(line))
        yield line
