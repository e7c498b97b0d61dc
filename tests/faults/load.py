"""A small write-heavy load for the fault tests: check-ins and purchases that must each happen
exactly once, sent with Idempotency-Keys and retried (same key, same body) until accepted."""

from __future__ import annotations

import collections
import secrets
import threading
import time
from dataclasses import dataclass, field

import requests

RETRYABLE = {502, 503, 504}
FAIL_FAST_SECONDS = 6.0


@dataclass
class Intent:
    """One write the client wants done exactly once."""

    kind: str  # "checkin" or "purchase"
    member_id: int
    method: str
    path: str
    headers: dict
    json: dict | None = None
    done_code: str | None = None  # the use case's "already done" refusal, if it has one
    key: str = field(default_factory=lambda: secrets.token_hex(12))
    accepted: dict | None = None
    accepted_at: float | None = None


@dataclass
class Observation:
    at: float
    status: int | str  # HTTP status, or "conn" when no answer came
    code: str | None
    seconds: float
    path: str


class Load:
    """Threads that keep creating intents until `stop_new`, then retry the unaccepted ones."""

    def __init__(self, base: str, make_intent, threads: int = 6, pace: float = 0.03) -> None:
        self.base = base
        self.make_intent = make_intent
        self.threads = threads
        self.pace = pace
        self.intents: list[Intent] = []
        self.pending: collections.deque[Intent] = collections.deque()
        self.observations: list[Observation] = []
        self.unexpected: list[str] = []
        self.lock = threading.Lock()
        self.creating = threading.Event()
        self.done = threading.Event()
        self._workers: list[threading.Thread] = []

    def start(self) -> None:
        self.creating.set()
        for _ in range(self.threads):
            worker = threading.Thread(target=self._work, daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop_new(self) -> None:
        self.creating.clear()

    def drain(self, timeout: float) -> bool:
        """Wait until every intent was accepted (True) or the time is up (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.pending and all(i.accepted is not None for i in self.intents):
                    break
            time.sleep(0.1)
        self.done.set()
        for worker in self._workers:
            worker.join(timeout=10)
        return all(i.accepted is not None for i in self.intents)

    def _next(self) -> Intent | None:
        with self.lock:
            if self.pending:
                return self.pending.popleft()
        if self.creating.is_set():
            intent = self.make_intent()
            if intent is not None:
                with self.lock:
                    self.intents.append(intent)
                return intent
        return None

    def _work(self) -> None:
        session = requests.Session()
        while not self.done.is_set():
            intent = self._next()
            if intent is None:
                time.sleep(0.05)
                continue
            if not self.send(session, intent):
                with self.lock:
                    self.pending.append(intent)
                time.sleep(0.2)
            time.sleep(self.pace)

    def send(self, session: requests.Session, intent: Intent) -> bool:
        """Send once; True when accepted (2xx)."""
        started = time.monotonic()
        headers = {**intent.headers, "Idempotency-Key": intent.key}
        try:
            response = session.request(
                intent.method,
                self.base + intent.path,
                json=intent.json,
                headers=headers,
                timeout=15,
            )
        except requests.RequestException:
            self._observe(started, "conn", None, intent.path)
            return False
        code = None
        if response.status_code >= 400:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = None
        self._observe(started, response.status_code, code, intent.path)
        if 200 <= response.status_code < 300:
            if intent.accepted is None:
                intent.accepted = response.json()
                intent.accepted_at = time.monotonic()
            return True
        if response.status_code in RETRYABLE or code == "idempotency.in_progress":
            return False
        if code is not None and code == intent.done_code:
            # The first attempt took effect but its answer was lost with the connection (the
            # database went away between the work's commit and storing the answer). The retry
            # gets the use case's own "already done"; the test checks it happened exactly once.
            intent.accepted = {"already_done": code}
            intent.accepted_at = time.monotonic()
            return True
        with self.lock:
            self.unexpected.append(
                f"{intent.method} {intent.path}: {response.status_code} {response.text[:300]}"
            )
        intent.accepted = {"refused": response.status_code}  # stop retrying; the test fails
        return True

    def _observe(self, started: float, status, code, path) -> None:
        with self.lock:
            self.observations.append(
                Observation(started, status, code, time.monotonic() - started, path)
            )

    def between(self, start: float, end: float) -> list[Observation]:
        return [o for o in self.observations if start <= o.at <= end]


def summary(observations: list[Observation]) -> str:
    counts = collections.Counter(str(o.status) for o in observations)
    slowest = max((o.seconds for o in observations), default=0.0)
    return f"{dict(sorted(counts.items()))}, slowest {slowest:.2f}s"
