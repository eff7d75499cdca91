"""Classes: a teacher leads, learners follow. A process-wide, thread-safe, bounded registry held in memory only.

A class is what followers copy (``ClassState``: model, number format, image, page, and the selection the teacher
showed everyone), a version number bumped on every change (a follower compares it with the one it last applied, a
cheap read), the teacher's secret (driving a class needs it; the join code alone only reads) and the recent
heartbeats of its learners (random tokens with a time, no names, nothing a learner chose).

A following learner may hand in a *wake-up* with its heartbeat: an opaque callable (the app's glue makes one that
asks the learner's session to rerun). A change of the version calls the wake-ups of the class's followers, after
the registry's lock is released (or, with ``wake=False``, when the teacher calls ``wake``: the app wakes the class
once the teacher's own page is drawn), so a follower sees the teacher's change without waiting for its next check.

The join code's first character is the app process's replica digit (env ``VITVIZ_REPLICA``, 0 by default): behind
``deploy/serve.sh`` the proxy sends a ``?class=`` code starting with digit i to process i, where the class lives.
Four letters follow, from an alphabet without I, O and L (read aloud or copied from a projector without doubt);
codes are read case-insensitively.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

LETTERS = "ABCDEFGHJKMNPQRSTUVWXYZ"  # no I, O, L: they read as 1, 0 and 1
CODE_LETTERS = 4  # 23**4 = 279,841 codes per replica
MAX_CLASSES = 20  # per process; a new class past this ends the one idle longest
IDLE_S = 3 * 3600.0  # a class nobody (teacher or learner) has touched for this long ends
LEARNER_WINDOW_S = 10.0  # a learner counts as joined while its heartbeat is this recent
MAX_LEARNERS_TRACKED = 500  # heartbeat tokens kept per class (a bound, not a class size limit)
REPLICA_ENV = "VITVIZ_REPLICA"

log = logging.getLogger(__name__)


def ended_sentence(max_classes: int = MAX_CLASSES, idle_s: float = IDLE_S) -> str:
    """What the teacher reads when their class is gone: the ways a class ends while its teacher's page stays open
    (a restart ends the teacher's session too, so it never reads this)."""
    return (f"Your class has ended: nobody used it for {idle_s / 3600:g} hours, or a new class started past this "
            f"server's {max_classes} and yours was the one idle longest. Start a new one to go on.")


class ClassError(Exception):
    """Something a person did that a class refuses; ``str(exc)`` is one sentence for the page."""


class UnknownClass(ClassError):
    """The code names no running class (mistyped, ended, or from before a restart)."""


class NotTeacher(ClassError):
    """Driving a class without its teacher's secret."""


@dataclass(frozen=True)
class ClassImage:
    """The image the teacher shows: a gallery sample (by key) or the teacher's own file (its bytes and name).
    Two images are the same when their content hash (``digest``) is."""

    name: str  # sample title or file name, as the class sees it
    digest: str  # vitviz.model.analysis.image_hash of the decoded image: the image's part of every cache key
    sample: str | None = None  # gallery key, for a sample
    data: bytes | None = field(default=None, compare=False, repr=False)  # the file's bytes, for the teacher's own


@dataclass(frozen=True)
class Shown:
    """What the teacher pressed "show everyone" on: the selected patch, block (1-based) and head (None: the mean
    of heads, or a page without one)."""

    patch: int | None = None
    layer: int | None = None
    head: int | None = None


@dataclass(frozen=True)
class ClassState:
    """What followers copy. ``page``: a stage key, or "" for home. ``shown_no`` counts "show everyone" presses, so
    pressing it again on the same selection still brings wandered learners back."""

    model: str
    precision: str
    page: str = ""
    image: ClassImage | None = None
    shown: Shown | None = None
    shown_no: int = 0


@dataclass(frozen=True)
class Snapshot:
    """A class as a follower reads it."""

    code: str
    version: int
    state: ClassState


@dataclass
class _Class:
    code: str
    secret: str
    state: ClassState
    touched: float
    version: int = 1
    heartbeats: dict[str, float] = field(default_factory=dict)  # learner token -> last seen
    wakers: dict[str, Callable[[], None]] = field(default_factory=dict)  # following learner token -> its wake-up


def replica_digit() -> str:
    """This process's digit from ``VITVIZ_REPLICA`` (0 when unset); anything but one digit is a setup error."""
    value = os.environ.get(REPLICA_ENV, "0").strip() or "0"
    if len(value) != 1 or not value.isdigit():
        raise ValueError(f"{REPLICA_ENV} must be one digit 0-9, not {value!r}")
    return value


def normalise(code: str) -> str | None:
    """A typed or linked code in its canonical form (upper case, spaces and dashes dropped), or None when it cannot
    be a class code at all (wrong length, a letter outside the alphabet)."""
    c = "".join(ch for ch in str(code).upper() if ch not in " -")
    if len(c) != 1 + CODE_LETTERS or not c[0].isdigit() or any(ch not in LETTERS for ch in c[1:]):
        return None
    return c


def join_link(address: str, code: str) -> str:
    """The link learners open: ``<address>/?class=<CODE>``."""
    return f"{address.rstrip('/')}/?class={code}"


class Classroom:
    """The classes of one app process. Every method is safe to call from many sessions' threads at once."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_classes: int = MAX_CLASSES,
                 idle_s: float = IDLE_S, replica: str | None = None) -> None:
        self._clock = clock
        self._max = max_classes
        self._idle_s = idle_s
        self._replica = replica
        self._lock = threading.Lock()
        self._classes: dict[str, _Class] = {}

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._classes)

    def start(self, state: ClassState) -> tuple[str, str]:
        """A new class showing ``state``: (join code, teacher secret). The secret stays in the teacher's session."""
        digit = self._replica if self._replica is not None else replica_digit()
        with self._lock:
            self._expire()
            while len(self._classes) >= self._max:  # full: the class idle longest ends
                del self._classes[min(self._classes.values(), key=lambda c: c.touched).code]
            code = digit + "".join(secrets.choice(LETTERS) for _ in range(CODE_LETTERS))
            while code in self._classes:
                code = digit + "".join(secrets.choice(LETTERS) for _ in range(CODE_LETTERS))
            secret = secrets.token_urlsafe(24)
            self._classes[code] = _Class(code, secret, state, self._clock())
            return code, secret

    def version(self, code: str) -> int | None:
        """The class's version, or None when it has ended: what a follower polls, so it is one dict look-up."""
        with self._lock:
            c = self._live(code)
            return None if c is None else c.version

    def get(self, code: str) -> Snapshot:
        """The class as followers copy it; ``UnknownClass`` when no such class runs."""
        with self._lock:
            c = self._need(code)
            return Snapshot(c.code, c.version, c.state)

    def heartbeat(self, code: str, learner: str, wake: Callable[[], None] | None = None) -> int | None:
        """A learner's page is open on this class: counts it as joined. Returns the version (None: ended).

        ``wake``: called on each later change of the class, until a heartbeat without one (exploring alone), the
        learner leaving or going quiet; None removes the learner's wake-up."""
        with self._lock:
            c = self._live(code)
            if c is None:
                return None
            now = self._clock()
            if learner not in c.heartbeats and len(c.heartbeats) >= MAX_LEARNERS_TRACKED:
                self._forget_quiet(c, now)
                if len(c.heartbeats) >= MAX_LEARNERS_TRACKED:
                    return c.version  # a crowd past the bound still follows; it is not counted one by one
            c.heartbeats[learner] = now
            if wake is None:
                c.wakers.pop(learner, None)
            else:
                c.wakers[learner] = wake
            c.touched = now
            return c.version

    def leave(self, code: str, learner: str) -> None:
        """A learner left the class (no longer counted)."""
        with self._lock:
            c = self._live(code)
            if c is not None:
                c.heartbeats.pop(learner, None)
                c.wakers.pop(learner, None)

    def update(self, code: str, secret: str, wake: bool = True, **changes) -> int:
        """The teacher changed what followers copy (``ClassState`` fields). The version moves only when the state
        does, so a teacher's rerun that changed nothing costs followers nothing. ``wake``: wake the followers now
        when it moved (else the teacher's ``wake`` does). Returns the version."""
        with self._lock:
            c = self._teacher(code, secret)
            new = replace(c.state, **changes)
            c.touched = self._clock()
            woken: list[Callable[[], None]] = []
            if new != c.state:
                c.state = new
                c.version += 1
                woken = list(c.wakers.values()) if wake else []
            version = c.version
        _wake(woken)
        return version

    def show(self, code: str, secret: str, shown: Shown, wake: bool = True) -> int:
        """"Show everyone": followers take the teacher's patch, block and head (even when unchanged)."""
        with self._lock:
            c = self._teacher(code, secret)
            c.state = replace(c.state, shown=shown, shown_no=c.state.shown_no + 1)
            c.version += 1
            c.touched = self._clock()
            version, woken = c.version, list(c.wakers.values()) if wake else []
        _wake(woken)
        return version

    def wake(self, code: str, secret: str) -> int:
        """The teacher wakes the class's followers (after changes made with ``wake=False``). Returns how many."""
        with self._lock:
            woken = list(self._teacher(code, secret).wakers.values())
        _wake(woken)
        return len(woken)

    def learners(self, code: str, secret: str) -> int:
        """How many learners are joined (a count; the tokens behind it never leave the registry)."""
        with self._lock:
            c = self._teacher(code, secret)
            c.touched = self._clock()
            return self._count(c)

    def end(self, code: str, secret: str) -> None:
        """The teacher ends the class: its followers are woken to find it gone (the others at their next check)."""
        with self._lock:
            woken = list(self._teacher(code, secret).wakers.values())
            del self._classes[code]
        _wake(woken)

    # -- under the lock --

    def _expire(self) -> None:
        now = self._clock()
        for code in [c.code for c in self._classes.values() if now - c.touched > self._idle_s]:
            del self._classes[code]

    def _live(self, code: str) -> _Class | None:
        c = self._classes.get(code)
        if c is not None and self._clock() - c.touched > self._idle_s:
            del self._classes[code]
            return None
        return c

    def _need(self, code: str) -> _Class:
        c = self._live(code)
        if c is None:
            raise UnknownClass(f"There is no class {code} running here: check the code, or the class has ended.")
        return c

    def _teacher(self, code: str, secret: str) -> _Class:
        c = self._need(code)
        if not secrets.compare_digest(c.secret, str(secret)):
            raise NotTeacher(f"Only the teacher who started class {code} can lead it.")
        return c

    def _count(self, c: _Class) -> int:
        """Learners seen within the window; the quiet ones' tokens are dropped (a closed tab is forgotten)."""
        self._forget_quiet(c, self._clock())
        return len(c.heartbeats)

    def _forget_quiet(self, c: _Class, now: float) -> None:
        for token in [t for t, seen in c.heartbeats.items() if now - seen > LEARNER_WINDOW_S]:
            del c.heartbeats[token]
            c.wakers.pop(token, None)


def _wake(wakers: list[Callable[[], None]]) -> None:
    """Call each follower's wake-up; one that fails (its session closed meanwhile) does not keep the others
    waiting: that follower finds the change at its next check."""
    for wake in wakers:
        try:
            wake()
        except Exception:  # noqa: BLE001 - a closed or broken session is that follower's own, never the teacher's
            log.debug("a follower's wake-up failed", exc_info=True)
