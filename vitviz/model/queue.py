"""A fair queue for the model: at most ``slots`` jobs run at once per process, the rest wait in
arrival order, and an identical request (same key) already running or waiting is joined.

Why: on a small server thirty learners may choose an image in the same minute. Running thirty
forward passes at once makes every one of them slow (and the pages of people who only move a
slider too); running them one or two at a time in arrival order gives each learner a short,
predictable wait that can be shown ("3 images ahead of yours, about 2 s").

Only what goes through ``run`` waits: cache hits and pages that need no model never touch the queue.
The waiting happens in the caller's own thread, and ``on_wait`` is called from that thread, so a
Streamlit script can draw its place in line while it waits.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Place:
    """Where a request stands: ``ahead`` jobs run or wait before it starts, ``eta_s`` seconds estimated
    from the running mean of finished jobs; ``next_up`` when only running jobs are ahead of it; ``running``
    once it has started."""

    ahead: int
    eta_s: float
    running: bool = False
    next_up: bool = False

    def sentence(self, noun: str = "image") -> str:
        """The place in words for a learner."""
        if self.running:
            return f"Running the model on your {noun}…"
        wait = "less than a second" if self.eta_s < 1 else f"about {self.eta_s:.0f} s"
        if self.ahead == 0:
            return f"Your {noun} is next."
        if self.next_up:
            return f"Your {noun} is next, after the {self.ahead} being worked on now ({wait})."
        plural = "s" if self.ahead != 1 else ""
        return f"{self.ahead} {noun}{plural} ahead of yours ({wait})."


class _Job(Generic[T]):
    """One computation, shared by everyone who asked for the same key."""

    def __init__(self, key: Hashable, compute: Callable[[], T]) -> None:
        self.key = key
        self.compute = compute
        self.started = False
        self.owner: object | None = None  # the caller that runs it
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.callers = 1
        self.away_s = 0.0  # time spent stepped out of its slot (not part of its duration)


class ModelQueue:
    """At most ``slots`` jobs at once, the rest in arrival order; identical keys are computed once.

    ``default_s`` is the duration assumed before any job has finished; the estimate then follows the
    mean of the last ``window`` finished jobs.
    """

    def __init__(self, slots: int = 1, default_s: float = 1.0, window: int = 20, poll_s: float = 0.5) -> None:
        if slots < 1:
            raise ValueError("a queue needs at least one slot")
        self.slots = slots
        self.poll_s = poll_s  # how often a waiting caller refreshes its place (the estimate moves)
        self._default_s = default_s
        self._durations: deque[float] = deque(maxlen=window)
        self._waiting: deque[_Job] = deque()  # arrival order
        self._running: list[_Job] = []
        self._jobs: dict[Hashable, _Job] = {}  # key -> job, while waiting or running
        self._cond = threading.Condition()
        self._stepping_back = 0  # jobs that stepped out (``stepped_out``) and wait to take a slot again
        self._local = threading.local()  # .job: the job this thread is running
        self.started_keys: list[Hashable] = []  # start order, for tests and benchmarks (last 1000)
        self.computed = 0  # jobs actually computed (joined requests count once)

    # -- what a caller sees -------------------------------------------------------------------------

    @property
    def mean_s(self) -> float:
        """The running mean duration of a job (``default_s`` until one has finished)."""
        with self._cond:
            return sum(self._durations) / len(self._durations) if self._durations else self._default_s

    def counts(self) -> tuple[int, int]:
        """(running, waiting) right now."""
        with self._cond:
            return len(self._running), len(self._waiting)

    def place(self, key: Hashable) -> Place | None:
        """Where the job for ``key`` stands, or None when no such job is running or waiting."""
        with self._cond:
            job = self._jobs.get(key)
            return None if job is None else self._place(job)

    def _place(self, job: _Job) -> Place:
        # called with the lock held
        mean = sum(self._durations) / len(self._durations) if self._durations else self._default_s
        if job.started:
            return Place(0, mean, running=True)
        in_front = 0
        for other in self._waiting:
            if other is job:
                break
            in_front += 1
        ahead = len(self._running) + self._stepping_back + in_front
        free_now = max(self.slots - len(self._running) - self._stepping_back, 0)
        # rounds of `slots` jobs that must end before this one starts (0 when it can start now)
        rounds = 0 if in_front < free_now else (in_front - free_now) // self.slots + 1
        return Place(ahead, rounds * mean, next_up=in_front == 0)

    # -- running ------------------------------------------------------------------------------------

    def run(self, key: Hashable, compute: Callable[[], T],
            on_wait: Callable[[Place], None] | None = None) -> T:
        """``compute()``'s value, run in this thread when its turn comes; or, when a job with the same
        ``key`` is already running or waiting, that job's value (or its exception) without computing again.

        ``on_wait(place)`` is called from this thread whenever the place changes while waiting (and once
        more with ``running=True`` when the job starts or the job joined is running). If ``on_wait``
        raises (a Streamlit script being stopped does), the caller leaves the line: the job stays for
        whoever else asked for it (one of them runs it), or is dropped when nobody else did.
        """
        me = object()
        with self._cond:
            job = self._jobs.get(key)
            if job is None:
                job = _Job(key, compute)
                self._jobs[key] = job
                self._waiting.append(job)
                self._cond.notify_all()
            else:
                job.callers += 1
            shown: Place | None = None
            try:
                while not job.done.is_set():
                    if not job.started and job.owner is None:
                        job.owner = me  # the first caller still waiting runs the job
                    if job.owner is me and self._can_start(job):
                        self._start(job)
                        break
                    if job.started and job.owner is not me:
                        break  # joined a running job: wait for its value below
                    place = self._place(job)
                    if on_wait is not None and place != shown:
                        shown = place
                        self._cond.release()  # never call out with the lock held
                        try:
                            on_wait(place)
                        finally:
                            self._cond.acquire()
                        continue  # the line may have moved while we were out
                    self._cond.wait(self.poll_s)
            except BaseException:
                self._leave(job, me)
                raise
        running = Place(0, self.mean_s, running=True)
        if job.owner is me:
            try:
                if on_wait is not None:
                    on_wait(running)
            finally:
                self._execute(job)  # runs even if on_wait raised: others may be waiting for it
        else:
            if on_wait is not None and not job.done.is_set():
                on_wait(running)
            job.done.wait()
        if job.error is not None:
            raise job.error
        return job.value

    def _leave(self, job: _Job, me: object) -> None:
        # lock held: a caller stops waiting before the job started
        job.callers -= 1
        if job.started:
            return
        if job.owner is me:
            job.owner = None  # another caller of the same key takes it over
        if job.callers == 0:
            self._waiting.remove(job)
            self._jobs.pop(job.key, None)
        self._cond.notify_all()

    def _can_start(self, job: _Job) -> bool:
        # lock held: the oldest waiting job starts when a slot is free and no job that stepped out wants it back
        return (bool(self._waiting) and self._waiting[0] is job and len(self._running) < self.slots
                and self._stepping_back == 0)

    @contextmanager
    def stepped_out(self) -> Iterator[None]:
        """Inside a job of this queue: give its slot to the next in line for the ``with`` block (while the job
        waits for something else, such as a page for the model), then take a slot again, before anyone still
        waiting. Outside a job of this queue it does nothing."""
        job = getattr(self._local, "job", None)
        if job is None:
            yield
            return
        with self._cond:
            self._running.remove(job)
            self._cond.notify_all()
        left = time.perf_counter()
        try:
            yield
        finally:
            with self._cond:
                self._stepping_back += 1
                self._cond.notify_all()  # the places of those waiting move back by one
                try:
                    while len(self._running) >= self.slots:
                        self._cond.wait(self.poll_s)
                finally:
                    self._stepping_back -= 1
                    self._running.append(job)
                    job.away_s += time.perf_counter() - left
                    self._cond.notify_all()

    def _start(self, job: _Job) -> None:
        # lock held
        self._waiting.popleft()
        self._running.append(job)
        job.started = True
        self.started_keys.append(job.key)
        del self.started_keys[:-1000]
        self._cond.notify_all()

    def _execute(self, job: _Job) -> None:
        t0 = time.perf_counter()
        self._local.job = job
        try:
            job.value = job.compute()
        except BaseException as exc:  # handed to every caller, the queue itself goes on
            job.error = exc
        finally:
            self._local.job = None
            elapsed = time.perf_counter() - t0 - job.away_s
            with self._cond:
                self._running.remove(job)
                self._jobs.pop(job.key, None)
                self.computed += 1
                if job.error is None:
                    self._durations.append(elapsed)
                job.done.set()
                self._cond.notify_all()
