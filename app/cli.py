"""Command-line interface: `flask --app wsgi <group> <command>`.

The app's own groups, each defined beside its commands. The scheduler's `jobs` group is added by
wsgi.py (jobs/ imports app, never the reverse).
"""

from __future__ import annotations

from flask import Flask

from app.commands.demo import demo_cli
from app.commands.keys import keys_cli
from app.commands.orders import orders_cli
from app.commands.products import products_cli
from app.commands.sandbox import sandbox_cli
from app.commands.staff import staff_cli


def register_cli(flask_app: Flask) -> None:
    for group in (staff_cli, orders_cli, products_cli, demo_cli, sandbox_cli, keys_cli):
        flask_app.cli.add_command(group)
