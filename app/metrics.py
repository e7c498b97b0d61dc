"""Prometheus metrics at /metrics: requests, latencies, job runs, messages, WeChat errors.

Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR to an empty directory shared
by the workers; /metrics then aggregates every worker. Set METRICS_TOKEN to require
`Authorization: Bearer <token>` on /metrics.
"""

from __future__ import annotations

import hmac
import os
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from app.errors import AppError

HTTP_REQUESTS = Counter(
    "huiyuan_http_requests_total", "HTTP requests answered", ["method", "endpoint", "status"]
)
HTTP_LATENCY = Histogram(
    "huiyuan_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
JOB_RUNS = Counter("huiyuan_job_runs_total", "Scheduled job runs", ["job", "outcome"])
MESSAGES = Counter(
    "huiyuan_messages_total", "Messages handled by the dispatcher", ["channel", "outcome"]
)
# Sent: WeChat accepted the message. Failed: a final refusal (`failed`), a send that may or may
# not have arrived and is never repeated (`uncertain`), or an attempt that will be retried
# (`retry`). `purpose` is the outbox purpose (points_expiry, wakeup, campaign, ...).
MESSAGES_SENT = Counter(
    "huiyuan_messages_sent_total", "Messages WeChat accepted", ["channel", "purpose"]
)
MESSAGES_FAILED = Counter(
    "huiyuan_messages_failed_total",
    "Message sends that did not succeed",
    ["channel", "purpose", "outcome"],
)
DISPATCH_TASKS = Counter(
    "huiyuan_dispatch_tasks_total", "RQ dispatch tasks run by `jobs worker`", ["outcome"]
)
WECHAT_ERRORS = Counter(
    "huiyuan_wechat_errors_total", "WeChat API errors by API and errcode", ["api", "errcode"]
)

_FAILED_OUTCOMES = {"failed", "uncertain", "retry"}


def count_delivery(channel: str | None, purpose: str | None, outcome: str) -> None:
    """Count one delivery attempt's outcome (the dispatcher calls this after recording it)."""
    channel, purpose = channel or "none", purpose or "unknown"
    MESSAGES.labels(channel, outcome).inc()
    if outcome == "sent":
        MESSAGES_SENT.labels(channel, purpose).inc()
    elif outcome in _FAILED_OUTCOMES:
        MESSAGES_FAILED.labels(channel, purpose, outcome).inc()


blp = Blueprint("metrics", __name__)


@blp.get("/metrics")
def metrics() -> Response:
    token = current_app.config.get("METRICS_TOKEN") or os.environ.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise AppError("auth.required", message="Send the metrics token.")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    return Response(payload, mimetype=CONTENT_TYPE_LATEST)


def init_metrics(app: Flask) -> None:
    app.register_blueprint(blp)

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.get("metrics_started")
        if started is None or request.path == "/metrics":
            return response
        # The route template, not the raw path: one series per endpoint, not per member id.
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        HTTP_REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
        HTTP_LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - started)
        return response
