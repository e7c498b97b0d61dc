"""Refuse request input that cannot be stored faithfully, before any handler sees it.

PostgreSQL text cannot hold NUL characters, and a lone UTF-16 surrogate (a JSON "\\ud800" escape
without its pair) cannot be encoded as UTF-8 at all: both would fail deep inside a query and
surface as a 500. JSON nested absurdly deep is refused before anything walks it. Everything else —
emoji, right-to-left text, 4-byte characters, quotes and SQL-looking strings — is ordinary text
that the handlers validate and the database stores as given (all SQL is parameterised).

A body is guarded however it arrives. One sent chunked (no Content-Length) is read in full by
`FramedBody` before Flask sees the request — at most the limit plus one byte — and handed on
with a Content-Length, as a buffering proxy would; a body over the limit is 413 whatever its
framing.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Flask, request
from werkzeug.wsgi import get_content_length

from app.errors import AppError

MAX_JSON_DEPTH = 32
MAX_ID = 2**63 - 1
# The API speaks only JSON; elsewhere (the official-account callback, the console) other bodies
# are expected.
JSON_ONLY_PREFIXES = ("/api/", "/staff/", "/pos/")
_PROBLEM = "Contains a character that is not allowed (NUL or an unpaired surrogate)."
_TOO_LARGE = "huiyuan.body_too_large"  # environ key FramedBody sets for check_request_input
_READ_SIZE = 64 * 1024


class FramedBody:
    """WSGI middleware: give an unframed body (chunked, so no Content-Length) a Content-Length.

    Only where the server says it ends the stream (`wsgi.input_terminated`: gunicorn and
    werkzeug's server set it for chunked requests), else werkzeug reads no body at all. Reads at
    most MAX_CONTENT_LENGTH + 1 bytes: werkzeug's own limit on such a stream silently stops at
    the limit, so a 400 KiB body reached the handler cut to 256 KiB (400, not 413)."""

    def __init__(self, wsgi_app, config) -> None:
        self.wsgi_app = wsgi_app
        self.config = config

    def __call__(self, environ, start_response):
        if environ.get("wsgi.input_terminated") and get_content_length(environ) is None:
            self._frame(environ, self.config.get("MAX_CONTENT_LENGTH"))
        return self.wsgi_app(environ, start_response)

    @staticmethod
    def _frame(environ, limit: int | None) -> None:
        stream, chunks, size = environ["wsgi.input"], [], 0
        while limit is None or size <= limit:
            chunk = stream.read(_READ_SIZE if limit is None else min(_READ_SIZE, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if limit is not None and size > limit:
            environ[_TOO_LARGE] = True
            chunks = []
        body = b"".join(chunks)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        # werkzeug ignores Content-Length beside Transfer-Encoding: chunked; the body is whole now.
        environ.pop("HTTP_TRANSFER_ENCODING", None)


def _bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _first_problem(value: Any, where: str, depth: int = 0) -> tuple[str, str] | None:
    """The first (field path, message) in a parsed JSON value that we refuse, or None."""
    if depth > MAX_JSON_DEPTH:
        return where or "_body", f"Nested deeper than {MAX_JSON_DEPTH} levels."
    if isinstance(value, str):
        return (where or "_body", _PROBLEM) if _bad_text(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if _bad_text(str(key)):
                return where or "_body", _PROBLEM
            found = _first_problem(item, path, depth + 1)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_problem(item, f"{where}[{index}]", depth + 1)
            if found:
                return found
    return None


def _refuse(field: str, message: str) -> AppError:
    return AppError(
        "request.invalid", message="The request has invalid fields.", details={field: [message]}
    )


def check_request_input() -> None:
    """Path parameters, query string and JSON body: 4xx for input we refuse, else nothing."""
    if request.environ.get(_TOO_LARGE):
        raise AppError("request.too_large")
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and _bad_text(value):
            raise _refuse(name, _PROBLEM)
        if isinstance(value, int) and not 0 <= value <= MAX_ID:
            # No row has such an id; the database would refuse to even compare it.
            raise AppError("not_found")
    for name, values in request.args.lists():
        if _bad_text(name) or any(_bad_text(v) for v in values):
            raise _refuse(name if not _bad_text(name) else "_query", _PROBLEM)
    if not request.content_length:
        return
    if not request.is_json:
        if request.path.startswith(JSON_ONLY_PREFIXES):
            raise AppError("request.unsupported_media_type")
        return
    try:
        body = request.get_json(silent=True)
    except RecursionError as exc:
        # The standard JSON parser recurses; a body of thousands of "[" exhausts the stack.
        raise _refuse("_body", f"Nested deeper than {MAX_JSON_DEPTH} levels.") from exc
    if body is None:
        return  # not valid JSON: the handler's own parsing answers 400 request.malformed
    found = _first_problem(body, "")
    if found:
        raise _refuse(*found)


def init_input_guard(app: Flask) -> None:
    app.wsgi_app = FramedBody(app.wsgi_app, app.config)
    app.before_request(check_request_input)
