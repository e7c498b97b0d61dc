"""The scheduler on the sandbox clock (SANDBOX=1 only).

APScheduler 3 asks `datetime.now()` for the time in two modules (the scheduler, which finds due
jobs and computes how long to sleep, and the executor, which checks misfires) and offers no clock
to inject, so in SANDBOX mode those two modules see a `datetime` whose now() adds the test-clock
offset. A watcher polls the offset in Redis (every WATCH_SECONDS) and, when it changes, recounts
the next runs and wakes the scheduler: a job whose time the clock has passed runs once (the
sandbox sets no misfire limit), and when the clock goes back every job's next run is counted
again from the new time. The jobs themselves read app.clock afresh in their own app context, so
a job that runs after a PUT has answered runs on the new time even inside the watcher's lag.

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
    def now(cls, tz=None):
        real = datetime.now(tz)
        source = _SchedulerTime.offset
        return real + timedelta(seconds=source()) if source else real


class SandboxClockFollower:
    """Keeps one scheduler on the deployment's test clock until stop()."""

    def __init__(self, scheduler: BaseScheduler) -> None:
        self.scheduler = scheduler
        self._client = get_redis()
        self._key = clock.sandbox_offset_key()
        self._offset = self._read()  # what the scheduler runs on (jobs read the clock themselves)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="sandbox-clock", daemon=True)

    def _read(self) -> float:
        return clock.read_sandbox_offset(self._client, self._key)

    def start(self) -> None:
        _SchedulerTime.offset = lambda: self._offset
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
            if offset != self._offset:
                self._follow(offset)

    def _follow(self, offset: float) -> None:
        log.info("sandbox clock moved by %+.0f s; the scheduler follows", offset - self._offset)
        # Paused, the scheduler looks for no due jobs while their next runs are recounted.
        self.scheduler.pause()
        try:
            self._offset = offset
            now = _SchedulerTime.now(self.scheduler.timezone)
            for job in self.scheduler.get_jobs():
                if job.next_run_time is not None and job.next_run_time <= now:
                    # Passed over: run once now. (Left as it is, APScheduler would count every
                    # run time missed, a minute-job's 500 000 for a jump of a year, to run one.)
                    job.modify(next_run_time=now)
                else:
                    # The next run counted from the new time (the clock may have gone back).
                    self.scheduler.reschedule_job(job.id, trigger=job.trigger)
        finally:
            self.scheduler.resume()
