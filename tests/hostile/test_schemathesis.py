"""Schemathesis over /openapi.json, with real tokens of every kind of caller.

For every operation in the document, generated requests (valid and invalid) must never get a 5xx,
every answer must match the documented schema and content type, every status other than the
generic ones (401, 403, 404, 405, 413, 415, 422, 429, 503) must be documented for that operation,
and invalid input must be refused with a 4xx. The number of examples per operation is bounded
(HY_SCHEMATHESIS_EXAMPLES, default 15) so the whole run stays around two minutes.

Two variants aim at what a plain run cannot reach: every generated body sent again as a server
hands on a chunked request (no CONTENT_LENGTH, the stream ended by the server; valid and
invalid bodies mixed, HY_SCHEMATHESIS_CHUNKED_EXAMPLES per operation, default 10), and every
paginated list called with cursors it never handed out (unsigned, signed with another key,
edited, any text), which must all be 422 request.invalid.
"""

from __future__ import annotations

import base64
import collections
import functools
import itertools
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
)

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("HY_SCHEMATHESIS_EXAMPLES", "15"))
CHUNKED_EXAMPLES = int(os.environ.get("HY_SCHEMATHESIS_CHUNKED_EXAMPLES", "10"))
# Answers any operation may give without listing them: no or bad token, wrong role, unknown or
# foreign id, wrong method, body too large, not JSON, invalid fields, rate limit, dependency down.
GENERIC_STATUSES = {401, 403, 404, 405, 413, 415, 422, 429, 503}
# Operations that would stop the run from testing anything else, or that are not the API.
SKIPPED_PATHS = ("/metrics",)


@functools.cache
def _spec() -> dict:
    """/openapi.json, read at collection from an app made in a child process: an app made here
    would initialise the process-wide rate limiter before the suite's own app does."""
    dump = (
        "import json; from app import create_app; "
        "from app import HELP_ONLY_DATABASE_URL as NOWHERE; "
        "a = create_app({'SQLALCHEMY_DATABASE_URI': NOWHERE, 'REDIS_URL': None}); "
        "print(json.dumps(a.test_client().get('/openapi.json').get_json()))"
    )
    env = {**os.environ, "SANDBOX": "1", "LOG_PLAIN": "1"}
    out = subprocess.run(
        [sys.executable, "-c", dump], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _each_operation():
    for path, item in _spec()["paths"].items():
        if path in SKIPPED_PATHS:
            continue
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method.upper(), path, operation


def _operations() -> list[tuple[str, str, str]]:
    """(mode, METHOD, path) for every operation in the document; negative cases only where
    there is input to make invalid."""
    found = []
    for method, path, operation in _each_operation():
        found.append(("positive", method, path))
        if operation.get("parameters") or operation.get("requestBody") or "{" in path:
            found.append(("negative", method, path))
    return found


def _operations_with_a_body() -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path, operation in _each_operation()
        if "requestBody" in operation
    ]


def _paginated_operations() -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path, operation in _each_operation()
        if any(p.get("name") == "cursor" for p in operation.get("parameters", []))
    ]


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@schemathesis.check
def documented_status(ctx, response, case) -> bool | None:
    """A status that is not generic must be listed for the operation (not just `default`)."""
    status = response.status_code
    if status in GENERIC_STATUSES or status >= 500:
        return None
    if status == 400 and _error_code(response) == "request.malformed":
        return None  # a body that is not JSON at all: any operation with a body answers this
    documented = {str(code) for code in case.operation.definition.raw.get("responses", {})}
    if str(status) not in documented and f"{str(status)[0]}XX" not in documented:
        raise AssertionError(
            f"{case.method} {case.path} answered {status}, which the document does not list "
            f"(documented: {sorted(documented)}): {response.text[:300]}"
        )
    return True


def _error_code(response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


@pytest.fixture
def callers(make_store, make_staff, make_member, member_headers, staff_headers, session):
    """Real tokens for a member and for staff of every role, plus real ids to aim at."""
    home, other = make_store(), make_store()
    member = make_member(store=home)
    victim = make_member(store=other)
    staff = {
        "clerk": make_staff("clerk", store=home),
        "manager": make_staff("manager", store=home),
        "marketer": make_staff("marketer"),
        "admin": make_staff("admin"),
    }
    spare_staff = make_staff("clerk", store=other)
    return {
        "member": member_headers(member)["Authorization"],
        "staff": {role: staff_headers(s)["Authorization"] for role, s in staff.items()},
        "ids": {
            "member_id": [member.id, victim.id],
            "store_id": [home.id, other.id],
            "staff_id": [spare_staff.id],
        },
    }


def _settings(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )


@pytest.mark.parametrize(("mode", "method", "path"), _operations(), ids=lambda v: v)
def test_api_answers_generated_requests_without_5xx_and_as_documented(
    api_schema, callers, method, path, mode
):
    operation = api_schema[path][method]

    @_settings(MAX_EXAMPLES)
    @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
    def run(case):
        # A negative case may be invalid only by its path id: aiming it at a real object
        # would make it a valid request.
        _authorise(case, callers, aim=mode == "positive")
        case.call_and_validate(checks=CHECKS)

    run()


def _as_chunked(app):
    """The app behind a server that received each body chunked: no CONTENT_LENGTH, and the
    server's mark that it ends the stream (what gunicorn and werkzeug's server hand on)."""

    def serve(environ, start_response):
        if environ.pop("CONTENT_LENGTH", None) is not None:
            environ["HTTP_TRANSFER_ENCODING"] = "chunked"
            environ["wsgi.input_terminated"] = True
        return app(environ, start_response)

    return serve


def _with_a_bad_string(value, bad: str):
    """The body with its first string (depth first) replaced by `bad`; a new field if none."""
    if isinstance(value, str):
        return bad, True
    if isinstance(value, dict | list):
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        for key, item in items:
            replaced, done = _with_a_bad_string(item, bad)
            if done:
                copy = dict(value) if isinstance(value, dict) else list(value)
                copy[key] = replaced
                return copy, True
    return value, False


def _hostile(body, kind: str) -> tuple[bytes, str]:
    """(raw body, content type) of a kind of hostile body made from a generated one."""
    try:
        json.dumps(body)
    except (TypeError, ValueError):
        body = {}  # a negative case's raw bytes or non-JSON values: start from an empty object
    if kind == "deep":
        return b"[" * 50_000 + b"]" * 50_000, "application/json"
    if kind == "too-large":
        return json.dumps({"x": "y" * (300 * 1024), "body": body}).encode(), "application/json"
    if kind == "text-plain":
        return json.dumps(body).encode(), "text/plain"
    bad = {"nul": "a\x00b", "lone-surrogate": "a\ud800"}[kind]
    replaced, done = _with_a_bad_string(body, bad)
    if not done:
        replaced = {"x": bad, "body": body}
    # json.dumps writes "\u0000" and "\ud800" escapes: valid JSON text, refused by the guard.
    return json.dumps(replaced).encode(), "application/json"


# What each hostile body must get, however it is framed; 429 when the rate limit comes first.
HOSTILE = {
    "as-generated": None,
    "nul": {422, 429},
    "lone-surrogate": {422, 429},
    "deep": {400, 422, 429},
    "too-large": {413, 429},
    "text-plain": {415, 429},
}


@pytest.mark.parametrize(("method", "path"), _operations_with_a_body(), ids=lambda v: v)
def test_api_answers_generated_bodies_sent_chunked_as_it_does_any_other(
    app, api_schema, callers, method, path
):
    """Valid and invalid bodies mixed, and each made hostile one way or another, all sent as a
    server hands on a chunked request."""
    operation = api_schema[path][method]
    chunked = _as_chunked(app)
    cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | (
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    )

    @_settings(CHUNKED_EXAMPLES)
    @given(case=cases, kind=st.sampled_from(sorted(HOSTILE)))
    def run(case, kind):
        _authorise(case, callers)
        if HOSTILE[kind] is None:
            case.call_and_validate(checks=CHECKS, app=chunked)
            return
        # A path the guard passes (an id past 64 bits is 404 before the body is read).
        ids = callers["ids"]
        case.path_parameters = {n: ids.get(n, [1])[0] for n in case.path_parameters or {}}
        data, content_type = _hostile(case.body, kind)
        headers = {**case.headers, "Content-Type": content_type}
        # The body sent is not the generated one: its status is checked here, not by
        # negative_data_rejection (which does not count 413 and 415 as refusals).
        checks = [check for check in CHECKS if check is not negative_data_rejection]
        response = case.call_and_validate(checks=checks, app=chunked, data=data, headers=headers)
        expected = HOSTILE[kind]
        if kind == "text-plain" and not path.startswith(("/api/", "/staff/")):
            expected = set(range(200, 500))  # only the API insists on JSON
        assert response.status_code in expected, (kind, response.status_code, response.text[:300])

    run()


def _old_style(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


# What a client might put in ?cursor= without having been handed it: the unsigned format of
# before around any JSON, a value signed with another key, and plain text.
_IDS = st.one_of(
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
)
TAMPERED_CURSORS = st.one_of(
    st.one_of(st.fixed_dictionaries({"id": _IDS}), _IDS).map(_old_style),
    _IDS.map(URLSafeSerializer("not-this-service", salt="huiyuan.pagination.cursor").dumps),
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=",
        min_size=1,
        max_size=250,
    ),
)


@schemathesis.check
def cursor_refused(ctx, response, case) -> bool | None:
    """A cursor the list never handed out is 422 request.invalid, naming the cursor."""
    if response.status_code in (429, 503):
        return None  # refused before the cursor is read (the rate limit, a dependency down)
    body = response.json() if response.status_code == 422 else {}
    if response.status_code != 422 or "cursor" not in body["error"]["details"]:
        raise AssertionError(
            f"{case.method} {case.path}?cursor={case.query.get('cursor')!r} answered "
            f"{response.status_code}, not 422 request.invalid: {response.text[:300]}"
        )
    assert body["error"]["code"] == "request.invalid"
    return True


@pytest.mark.parametrize(("method", "path"), _paginated_operations(), ids=lambda v: v)
def test_every_list_refuses_cursors_it_never_handed_out(api_schema, callers, method, path):
    operation = api_schema[path][method]

    @_settings(MAX_EXAMPLES)
    @given(
        case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        cursor=TAMPERED_CURSORS,
    )
    def run(case, cursor):
        _authorise(case, callers)
        if case.path.startswith("/staff/"):  # a role that may read every list: no 403 turns
            case.headers["Authorization"] = callers["staff"]["admin"]
        case.query = {**(case.query or {}), "cursor": cursor}
        case.call_and_validate(checks=[*CHECKS, cursor_refused])

    run()


def test_the_variants_cover_the_lists_and_the_bodies():
    assert len(_paginated_operations()) >= 8
    assert len(_operations_with_a_body()) >= 30


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    negative_data_rejection,
    documented_status,
]


def _authorise(case, callers, aim: bool = True) -> None:
    """A real token for the area, real ids half the time (`aim`), a fresh Idempotency-Key per
    POST."""
    headers = dict(case.headers or {})
    if case.path.startswith("/staff/"):
        tokens = list(callers["staff"].values())
        headers["Authorization"] = tokens[next(_turns[case.path]) % len(tokens)]
    elif case.path.startswith("/api/"):
        headers["Authorization"] = callers["member"]
    if case.method.upper() == "POST":
        headers.setdefault("Idempotency-Key", secrets.token_hex(8))
    case.headers = headers
    # Half the time aim at an object that exists, so the code behind the 404 runs too.
    for name, values in callers["ids"].items():
        if aim and case.path_parameters and name in case.path_parameters and secrets.randbelow(2):
            case.path_parameters[name] = values[secrets.randbelow(len(values))]


# Staff roles take turns per operation, so each role sends some of every operation's examples.
_turns: collections.defaultdict[str, itertools.count] = collections.defaultdict(itertools.count)
