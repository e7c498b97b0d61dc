"""Figures as CSV files: what the console's download buttons save."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from flask import Response

# The 200 answer's second content type: @blp.alt_response(200, **CSV_ANSWER) beside the JSON one.
CSV_ANSWER = {
    "content_type": "text/csv",
    "schema": {"type": "string"},
    "description": "JSON; with `format=csv` the same figure as a CSV file",
}


def csv_response(filename: str, header: list[str], rows: Iterable[list]) -> Response:
    """A CSV attachment, UTF-8 with a BOM so spreadsheets show Chinese names; None is empty."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([["" if cell is None else cell for cell in row] for row in rows])
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
