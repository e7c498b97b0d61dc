"""Schemathesis over /openapi.json, with real tokens of every kind of caller.

For every operation in the document, generated requests (valid and invalid) must never get a 5xx,
every answer must match the documented schema and content type, every status other than the
generic ones (401, 403, 404, 405, 413, 415, 422, 429, 503) must be documented for that operation,
and invalid input must be refused with a 4xx. The number of examples per operation is bounded
(HY_SCHEMATHESIS_EXAMPLES, default 15) so the whole run stays around two minutes.
"""

from __future__ import annotations

import collections
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
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
)

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("HY_SCHEMATHESIS_EXAMPLES", "15"))
# Answers any operation may give without listing them: no or bad token, wrong role, unknown or
# foreign id, wrong method, body too large, not JSON, invalid fields, rate limit, dependency down.
GENERIC_STATUSES = {401, 403, 404, 405, 413, 415, 422, 429, 503}
# Operations that would stop the run from testing anything else, or that are not the API.
SKIPPED_PATHS = ("/metrics",)


def _operations() -> list[tuple[str, str, str]]:
    """(mode, METHOD, path) for every operation in the document; negative cases only where
    there is input to make invalid.

    The document is read at collection from an app made in a child process: an app made here
    would initialise the process-wide rate limiter before the suite's own app does.
    """
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
    spec = json.loads(out.strip().splitlines()[-1])
    found = []
    for path, item in spec["paths"].items():
        if path in SKIPPED_PATHS:
            continue
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            found.append(("positive", method.upper(), path))
            if operation.get("parameters") or operation.get("requestBody") or "{" in path:
                found.append(("negative", method.upper(), path))
    return found


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


@pytest.mark.parametrize(("mode", "method", "path"), _operations(), ids=lambda v: v)
def test_api_answers_generated_requests_without_5xx_and_as_documented(
    api_schema, callers, method, path, mode
):
    operation = api_schema[path][method]

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
    def run(case):
        _authorise(case, callers)
        case.call_and_validate(checks=CHECKS)

    run()


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    negative_data_rejection,
    documented_status,
]


def _authorise(case, callers) -> None:
    """A real token for the area, real ids half the time, a fresh Idempotency-Key per POST."""
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
        if case.path_parameters and name in case.path_parameters and secrets.randbelow(2):
            case.path_parameters[name] = values[secrets.randbelow(len(values))]


# Staff roles take turns per operation, so each role sends some of every operation's examples.
_turns: collections.defaultdict[str, itertools.count] = collections.defaultdict(itertools.count)
