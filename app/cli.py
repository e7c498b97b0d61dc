"""Command-line interface: `flask --app wsgi <group> <command>`."""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

staff_cli = AppGroup("staff", help="Staff accounts.")
orders_cli = AppGroup("orders", help="Historical purchases.")
demo_cli = AppGroup("demo", help="Demo data for the sandbox.")


def register_cli(flask_app: Flask) -> None:
    # Command modules attach their commands to the groups above when imported.
    import importlib

    importlib.import_module("app.commands")
    from app.commands.sandbox import sandbox_cli
    from jobs.cli import jobs_cli

    for group in (staff_cli, orders_cli, demo_cli, jobs_cli, sandbox_cli):
        flask_app.cli.add_command(group)
