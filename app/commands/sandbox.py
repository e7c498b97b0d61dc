"""`flask --app wsgi sandbox run`: the whole service on a bare machine, for `make run`.

Without DATABASE_URL, uses the embedded PostgreSQL in instance/pg (started, or joined, when this
process made the app; stopped when it exits: the children get its URL and do not count). Starts
an embedded Redis (fakeredis over TCP) unless REDIS_URL is set, so that the API and the scheduler
process share one store (and one test clock), and writes its URL to instance/embedded-redis.url
while it runs, so that a `flask jobs run-once` from another shell finds it too; migrates the
database; loads the demo data (both idempotent: the data stay across restarts); starts the
scheduler as a child process; serves the API with the built-in WeChat sandbox.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.config import EMBEDDED_REDIS_FILE
from app.embedded_redis import start_embedded_redis

sandbox_cli = AppGroup("sandbox", help="The sandbox deployment (SANDBOX=1).")


@sandbox_cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="Do not start the scheduler process.")
def run(host: str, port: int, no_scheduler: bool) -> None:
    """Migrate, load demo data, start the scheduler and serve the API with the sandbox."""
    if not current_app.config.get("SANDBOX"):
        raise click.ClickException("sandbox run needs SANDBOX=1")
    env = dict(os.environ)
    env["SANDBOX"] = "1"
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = current_app.config["SQLALCHEMY_DATABASE_URI"]
        click.echo(f"embedded PostgreSQL, data in {current_app.config['INSTANCE_DIR']}/pg")
    if env.get("REDIS_URL"):
        _serve(env, host, port, no_scheduler)
        return
    env["REDIS_URL"], _ = start_embedded_redis()
    click.echo(f"embedded Redis (fakeredis) at {env['REDIS_URL']}")
    url_file = Path(current_app.config["INSTANCE_DIR"]) / EMBEDDED_REDIS_FILE
    url_file.parent.mkdir(parents=True, exist_ok=True)
    url_file.write_text(env["REDIS_URL"] + "\n")
    try:
        _serve(env, host, port, no_scheduler)
    finally:
        url_file.unlink(missing_ok=True)


def _serve(env: dict, host: str, port: int, no_scheduler: bool) -> None:
    env.setdefault("WECHAT_API_BASE", f"http://{host}:{port}/_sandbox/wechat")
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    root = Path(current_app.root_path).parent
    for step in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run(flask + step, cwd=root, env=env, check=True)
    children: list[subprocess.Popen] = []
    if not no_scheduler:
        children.append(subprocess.Popen(flask + ["jobs", "run"], cwd=root, env=env))
    click.echo(
        f"\nHuiyuan sandbox: API http://{host}:{port}  docs http://{host}:{port}/docs  "
        f"sent messages http://{host}:{port}/_sandbox/wechat/messages\n"
    )
    server = subprocess.Popen(
        flask + ["run", "--host", host, "--port", str(port), "--with-threads", "--no-reload"],
        cwd=root,
        env=env,
    )
    children.append(server)

    def stop(*_):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
