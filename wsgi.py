"""The deployed app: the API, with the scheduler's `jobs` commands (`flask --app wsgi jobs run`)."""

from app import create_app
from jobs.cli import jobs_cli

app = create_app()
app.cli.add_command(jobs_cli)
