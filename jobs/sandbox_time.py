"""The scheduler on the sandbox clock (SANDBOX=1 only).

APScheduler 3 asks `datetime.now()` for the time in two modules (the scheduler, which finds due
jobs and computes how long to sleep, and the executor, which checks misfires) and offers no clock
to inject, so in SANDBOX mode those two modules see a `datetime` whose now() adds the test-clock
offset, read from Redis at each call (a few times per wake-up). A watcher polls the offset and,
when it changes, wakes the scheduler: a job whose time the clock has passed runs once (coalesced;
the sandbox sets no misfire limit), and when the clock goes back every job's next run is counted
again from the new time. Jobs themselves run in their own app context, on app.clock.

Without SANDBOX nothing here is installed: the production scheduler runs on wall time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import apscheduler.executors.base
import apscheduler.schedulers.base
from apscheduler.schedulers.base import BaseScheduler

from app import clock
from app.extensions import get_redis

log = logging.getLogger("huiyuan.scheduler")
WATCH_SECONDS = 0.5


class _SchedulerTime(datetime):
    """`datetime` for APScheduler's modules: now() is the sandbox clock while one is followed."""

    offset: Callable[[], float] | None = None

    @classmethod
    def now(cls, tz=None):  # noqa: ANN001, ANN206 - datetime.now's own signature
        real = datetime.now(tz)
        source = _SchedulerTime.offset
        return real + timedelta(seconds=source()) if source else real


class SandboxClockFollower:
    """Keeps one scheduler on the deployment's test clock until stop()."""

    def __init__(self, scheduler: BaseScheduler) -> None:
        self.scheduler = scheduler
        self._client = get_redis()
        self._key = clock.sandbox_offset_key()
        self._last = self._read()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="sandbox-clock", daemon=True)

    def _read(self) -> float:
        return clock.read_sandbox_offset(self._client, self._key)

    def _current(self) -> float:
        try:
            return self._read()
        except Exception:  # noqa: BLE001 - Redis down: keep the last offset seen
            return self._last

    def start(self) -> None:
        _SchedulerTime.offset = self._current
        apscheduler.schedulers.base.datetime = _SchedulerTime
        apscheduler.executors.base.datetime = _SchedulerTime
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        _SchedulerTime.offset = None

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_SECONDS):
            try:
                offset = self._read()
            except Exception as exc:  # noqa: BLE001 - Redis down: try again
                log.warning("sandbox clock read failed: %s", type(exc).__name__)
                continue
            if offset == self._last:
                continue
            went_back = offset < self._last
            self._last = offset
            log.info("sandbox clock moved %s; scheduler follows", "back" if went_back else "on")
            if went_back:
                # Next runs counted from the new (earlier) time, so they fire when it comes again.
                for job in self.scheduler.get_jobs():
                    self.scheduler.reschedule_job(job.id, trigger=job.trigger)
            self.scheduler.wakeup()
