"""CLI command modules; each attaches commands to a group in app.cli. One import per module."""

from app.commands import demo, orders, sandbox, staff  # noqa: F401
