"""The always-on scheduler behind `tracker serve`: one APScheduler job per enabled source.

The database is the schedule's memory (APScheduler keeps its jobs in memory
only): every poll stores `sources.next_poll_at` (its interval, or the backoff
after a failure), and each job's next run is read back from there. A restart
therefore continues where the last process stopped instead of re-polling
everything, and a manual `tracker poll` in another shell pushes the job's next
run back. The per-source lock in the database (taken by poll_source) keeps the
two from polling one source at once.

Timing rules (pure functions, so they are tested with a frozen clock):
- a run happens at its due time plus a delay in [0, jitter], never earlier, so
  backoff and politeness are never shortened; the jitter is capped at half the
  source's interval so a short interval is not swamped by the default 10 minutes;
- sources never polled before are spread over their first interval (slot k of n
  starts k/n of the way in) instead of all firing at start-up;
- an overdue source (the service was down) runs at once, plus its jitter.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .config import Config, Source
from .feeds import write_feeds
from .fetch import Fetcher
from .poll import PollResult, poll_source
from .store import Store, iso, parse_iso

log = logging.getLogger("tracker.schedule")

Clock = Callable[[], datetime]
LOCKED_RETRY_S = 60.0  # another process holds the source: look again soon, its poll will move next_poll_at
STOP_GRACE_S = 4.0  # uvicorn's own graceful shutdown takes at most 3 s: stay within the 10 s promise


def system_clock() -> datetime:
    return datetime.now(UTC)


# -- timing rules ---------------------------------------------------------------------------
def jitter_bound(source: Source, jitter: float) -> float:
    """The largest delay added to a run of this source."""
    return max(0.0, min(jitter, source.interval / 2))


def misfire_grace(source: Source) -> int:
    # A run delayed by a busy machine or a suspended laptop still happens if it is
    # less than half an interval late (APScheduler's default is 1 second).
    return max(int(source.interval / 2), 1)


def first_run(state: dict | None, source: Source, now: datetime, *, jitter: float, slot: int, slots: int,
              rng: random.Random) -> datetime:
    """When a job's first run happens after (re)start, from what the database remembers."""
    state = state or {}
    due = parse_iso(state.get("next_poll_at"))
    if due is None and state.get("last_poll_at"):
        due = parse_iso(state["last_poll_at"]) + timedelta(seconds=source.interval)
    if due is None:
        # never polled: slot k of n starts k/n of the way into the first interval
        offset = source.interval * slot / max(slots, 1)
        spread = min(jitter_bound(source, jitter), source.interval / max(slots, 1))
        return now + timedelta(seconds=offset + rng.uniform(0, spread))
    return max(due, now) + timedelta(seconds=rng.uniform(0, jitter_bound(source, jitter)))


def next_run(state: dict | None, source: Source, now: datetime, *, jitter: float, rng: random.Random,
             fallback: float | None = None) -> datetime:
    """The run after this one: the stored next_poll_at (interval or backoff) plus jitter.

    When the store has no future time (the poll did not write one: the source was
    locked by another process, or the job crashed) the run is `fallback` seconds away.
    """
    due = parse_iso((state or {}).get("next_poll_at"))
    if due is None or due <= now:
        due = now + timedelta(seconds=source.interval if fallback is None else fallback)
    return due + timedelta(seconds=rng.uniform(0, jitter_bound(source, jitter)))


def plan(config: Config, states: dict[str, dict], now: datetime, rng: random.Random) -> dict[str, datetime]:
    """First run of every enabled source."""
    enabled = [s for s in config.sources if s.enabled]
    fresh = [s.id for s in enabled if not _polled(states.get(s.id))]
    jitter = config.settings.jitter
    return {s.id: first_run(states.get(s.id), s, now, jitter=jitter,
                            slot=fresh.index(s.id) if s.id in fresh else 0, slots=len(fresh), rng=rng)
            for s in enabled}


def _polled(state: dict | None) -> bool:
    return bool(state and (state.get("next_poll_at") or state.get("last_poll_at")))


def is_due(state: dict | None, now: datetime) -> bool:
    nxt = parse_iso((state or {}).get("next_poll_at"))
    return nxt is None or nxt <= now


# -- job bookkeeping in the database ---------------------------------------------------------
def record_job_error(store: Store, source_id: str, message: str, now: datetime) -> None:
    """Keep the last scheduler problem of a source (shown by `tracker sources` and /sources)."""
    with store.transaction() as c:
        c.execute("INSERT OR IGNORE INTO sources (id) VALUES (?)", (source_id,))
        # the message first: `tracker sources` shows only the start of it
        c.execute("UPDATE sources SET last_job_error = ? WHERE id = ?", (f"{message} (at {iso(now)})", source_id))


def clear_job_error(store: Store, source_id: str) -> None:
    row = store.one("SELECT last_job_error FROM sources WHERE id = ?", (source_id,))
    if row is not None and row["last_job_error"]:
        with store.transaction() as c:
            c.execute("UPDATE sources SET last_job_error = NULL WHERE id = ?", (source_id,))


def source_states(store: Store) -> dict[str, dict]:
    return {k: dict(v) for k, v in store.all_source_states().items()}


# -- an executor whose threads never hold the process open ------------------------------------
class DaemonThreadExecutor(BaseExecutor):
    """Runs each job in a daemon thread, at most `max_workers` at once.

    concurrent.futures threads are joined at interpreter exit, so one poll stuck
    on a slow server would keep a stopped service alive for up to its timeout.
    A poll abandoned this way has written nothing: it commits in one transaction
    at its very end, and its database lock dies with the process.
    """

    def __init__(self, max_workers: int):
        super().__init__()
        self._slots = threading.Semaphore(max_workers)
        self._threads: set[threading.Thread] = set()
        self._threads_lock = threading.Lock()

    def _do_submit_job(self, job, run_times) -> None:
        t = threading.Thread(target=self._work, args=(job, run_times), name=f"poll-{job.id}", daemon=True)
        with self._threads_lock:
            self._threads.add(t)
        t.start()

    def _work(self, job, run_times) -> None:
        try:
            with self._slots:
                events = run_job(job, job._jobstore_alias, run_times, self._logger.name)
        except BaseException as e:
            self._run_job_error(job.id, e, e.__traceback__)
        else:
            self._run_job_success(job.id, events)
        finally:
            with self._threads_lock:
                self._threads.discard(threading.current_thread())

    def join(self, timeout: float) -> bool:
        """Wait for running jobs; True when none is left."""
        end = time.monotonic() + timeout
        while True:
            with self._threads_lock:
                threads = list(self._threads)
            if not threads:
                return True
            left = end - time.monotonic()
            if left <= 0:
                return False
            threads[0].join(min(left, 0.1))

    def shutdown(self, wait: bool = True) -> None:
        if wait:
            self.join(STOP_GRACE_S)


# -- the scheduler ------------------------------------------------------------------------------
@dataclass
class JobState:
    running: bool = False
    last_result: PollResult | None = None


class PollScheduler:
    """Polls every enabled source on its own schedule, in background threads."""

    def __init__(self, config: Config, *, clock: Clock = system_clock, rng: random.Random | None = None):
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.sources = {s.id: s for s in config.sources if s.enabled}
        self.executor = DaemonThreadExecutor(max(config.settings.concurrency, 1))
        self.scheduler = BackgroundScheduler(timezone=UTC, executors={"default": self.executor})
        self.scheduler.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self._local = threading.local()
        self.fetcher = Fetcher(config.settings, validators=lambda key: self._local.store.validators(key))
        self._feeds_lock = threading.Lock()
        self._stopping = threading.Event()
        self.jobs = {sid: JobState() for sid in self.sources}

    # -- lifecycle ----------------------------------------------------------------------------
    def add_jobs(self) -> dict[str, datetime]:
        """Plan every source's first run from the database; returns the plan."""
        with Store(self.config.settings.db_path) as store:
            runs = plan(self.config, source_states(store), self.clock(), self.rng)
            with self._feeds_lock:
                write_feeds(self.config, store)  # a config change (a new topic) shows up at once
        for sid, when in runs.items():
            src = self.sources[sid]
            self.scheduler.add_job(
                self._run, IntervalTrigger(seconds=src.interval, timezone=UTC), args=[sid], id=sid,
                name=f"poll {sid}", next_run_time=when, coalesce=True, max_instances=1,
                misfire_grace_time=misfire_grace(src), replace_existing=True,
            )
        return runs

    def start(self) -> dict[str, datetime]:
        runs = self.add_jobs()
        self.scheduler.start()
        log.info("scheduler started: %d source(s)", len(runs))
        return runs

    def stop(self, timeout: float = STOP_GRACE_S) -> bool:
        """Stop scheduling and wait up to `timeout` for running polls; True when all finished."""
        self._stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        finished = self.executor.join(timeout)
        if finished:
            self.fetcher.close()
        else:
            # closing the client under a running poll would turn our own shutdown into
            # a recorded network failure of that source: leave it to die with the process
            log.warning("stopping with %d poll(s) still running; they commit nothing",
                        sum(j.running for j in self.jobs.values()))
        return finished

    def next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

    def running(self) -> set[str]:
        return {sid for sid, j in self.jobs.items() if j.running}

    # -- one job run ------------------------------------------------------------------------
    def _run(self, source_id: str) -> None:
        if self._stopping.is_set():
            return
        source = self.sources[source_id]
        job = self.jobs[source_id]
        job.running = True
        try:
            with Store(self.config.settings.db_path) as store:
                self._local.store = store
                self._run_with(store, source, job)
        finally:
            job.running = False
            self._local.store = None

    def _run_with(self, store: Store, source: Source, job: JobState) -> None:
        now = self.clock()
        fallback = None
        try:
            if not is_due(dict(store.source_state(source.id)), now):
                return  # a manual poll ran since this run was planned: follow its next_poll_at
            result = poll_source(self.config, source, self.fetcher, store, now=now)
            job.last_result = result
            if result.outcome == "locked":
                fallback = min(source.interval, LOCKED_RETRY_S)
                record_job_error(store, source.id, "skipped: already being polled by another process", now)
            else:
                clear_job_error(store, source.id)
            if result.events:
                self._write_feeds(store)
        except Exception as e:
            log.exception("poll of %s failed", source.id)
            record_job_error(store, source.id, f"job error: {type(e).__name__}: {e}", self.clock())
        finally:
            self._reschedule(store, source, fallback)

    def _write_feeds(self, store: Store) -> None:
        # one writer at a time inside this process, each reading the latest events under
        # the lock, so the file renamed last is never older than one renamed before it
        with self._feeds_lock:
            write_feeds(self.config, store)

    def _reschedule(self, store: Store, source: Source, fallback: float | None) -> None:
        if self._stopping.is_set():
            return
        when = next_run(dict(store.source_state(source.id)), source, self.clock(),
                        jitter=self.config.settings.jitter, rng=self.rng, fallback=fallback)
        try:
            self.scheduler.modify_job(source.id, next_run_time=when)
        except Exception as e:  # the scheduler is shutting down
            log.debug("cannot reschedule %s: %s", source.id, e)

    # -- APScheduler events -----------------------------------------------------------------
    def _on_event(self, event) -> None:
        if event.code == EVENT_JOB_MISSED:
            message = f"missed run scheduled for {iso(event.scheduled_run_time)}"
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            message = "run skipped: the previous poll of this source is still running"
        else:
            exc = event.exception if isinstance(event, JobExecutionEvent) else None
            message = f"job error: {type(exc).__name__}: {exc}"
        log.warning("source %s: %s", event.job_id, message)
        try:
            with Store(self.config.settings.db_path) as store:
                record_job_error(store, event.job_id, message, self.clock())
        except Exception:
            log.exception("cannot record the job error of %s", event.job_id)
