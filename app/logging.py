"""Structured (JSON-lines) logs with the request id on every line of a request."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid

from flask import Flask, g, has_request_context, request


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if has_request_context() and g.get("request_id"):
            entry["request_id"] = g.request_id
        for key in ("http", "job", "wechat"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(app: Flask) -> None:
    root = logging.getLogger("huiyuan")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        if app.config.get("LOG_JSON", True):
            handler.setFormatter(JsonFormatter())
        else:
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
            )
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
    access = logging.getLogger("huiyuan.request")

    @app.before_request
    def _start_request() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        # Accept a caller's id only if it is short and plain; otherwise mint one.
        ok = 0 < len(incoming) <= 64 and all(c.isalnum() or c in "-_." for c in incoming)
        g.request_id = incoming if ok else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        started = g.get("request_started")
        elapsed_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
        actor = g.get("auth_scope")
        access.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "http": {
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": elapsed_ms,
                    "actor": actor,
                    "ip": request.remote_addr,
                }
            },
        )
        return response
