"""The model queue, proved with threads and events (no timing): one at a time in arrival order, waiting
callers see their place, identical requests are joined, and what needs no model never waits."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from vitviz.model.analysis import analyze, image_hash
from vitviz.model.queue import ModelQueue, Place
from vitviz.views import attention as views

WAIT = 60  # seconds: only a bound against a hung test, never a measured time


def _image(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8))


class Learner:
    """One learner asking the queue for an analysis in its own thread; its job holds at a gate until released."""

    def __init__(self, q: ModelQueue, key: str, compute, log: list, lock: threading.Lock) -> None:
        self.places: list[Place] = []
        self.placed = threading.Condition()
        self.gate = threading.Event()
        self.result = None
        self.error: BaseException | None = None

        def job():
            with lock:
                log.append(("start", key))
            assert self.gate.wait(WAIT)
            value = compute()
            with lock:
                log.append(("end", key))
            return value

        def on_wait(place: Place) -> None:
            with self.placed:
                self.places.append(place)
                self.placed.notify_all()

        def main() -> None:
            try:
                self.result = q.run(key, job, on_wait)
            except BaseException as exc:  # handed to the test
                self.error = exc

        self.thread = threading.Thread(target=main, daemon=True)

    def start(self) -> Learner:
        self.thread.start()
        return self

    def wait_for(self, predicate) -> Place:
        """Block until a reported place satisfies ``predicate``; return it."""
        with self.placed:
            assert self.placed.wait_for(lambda: any(predicate(p) for p in self.places), WAIT), self.places
            return next(p for p in self.places if predicate(p))

    def join(self):
        self.thread.join(WAIT)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def log():
    return [], threading.Lock()


def test_three_analyses_run_one_at_a_time_in_arrival_order_and_report_their_place(tiny_bundle, log):
    q = ModelQueue(slots=1, default_s=2.0)
    events, lock = log
    images = {k: _image(i) for i, k in enumerate("abc")}
    learners = {k: Learner(q, k, lambda k=k: analyze(tiny_bundle, images[k]), events, lock) for k in "abc"}

    learners["a"].start().wait_for(lambda p: p.running)
    learners["b"].start().wait_for(lambda p: not p.running)
    learners["c"].start().wait_for(lambda p: not p.running)
    assert q.counts() == (1, 2)
    # the waiting ones know where they are: b has a's job ahead, c has a's and b's
    assert learners["b"].places[0] == Place(ahead=1, eta_s=2.0, next_up=True)
    assert learners["b"].places[0].sentence() == "Your image is next, after the 1 being worked on now (about 2 s)."
    assert learners["c"].places[0].sentence() == "2 images ahead of yours (about 4 s)."
    assert learners["c"].places[0] == Place(ahead=2, eta_s=4.0)
    assert q.place("c") == Place(ahead=2, eta_s=4.0)

    learners["a"].gate.set()
    learners["b"].wait_for(lambda p: p.running)
    assert learners["c"].wait_for(lambda p: p.ahead == 1 and not p.running).ahead == 1  # moved up one
    learners["b"].gate.set()
    learners["c"].wait_for(lambda p: p.running)
    learners["c"].gate.set()
    results = {k: learner.join() for k, learner in learners.items()}

    assert events == [("start", "a"), ("end", "a"), ("start", "b"), ("end", "b"), ("start", "c"), ("end", "c")]
    assert q.started_keys == ["a", "b", "c"] and q.computed == 3
    assert {k: r.image_hash for k, r in results.items()} == {k: image_hash(images[k]) for k in "abc"}
    assert q.counts() == (0, 0) and q.place("a") is None


def test_an_identical_request_is_joined_whether_waiting_or_running(tiny_bundle, log):
    q = ModelQueue(slots=1)
    events, lock = log
    image = _image(7)
    blocker = Learner(q, "other", lambda: "other", events, lock).start()
    blocker.wait_for(lambda p: p.running)
    first = Learner(q, "same", lambda: analyze(tiny_bundle, image), events, lock).start()
    first.wait_for(lambda p: not p.running)
    joined_waiting = Learner(q, "same", lambda: pytest.fail("a joined request must not compute"), events, lock).start()
    joined_waiting.wait_for(lambda p: not p.running)
    assert joined_waiting.places[0] == first.places[0]  # the same job, the same place

    blocker.gate.set()
    first.wait_for(lambda p: p.running)
    joined_running = Learner(q, "same", lambda: pytest.fail("a joined request must not compute"), events, lock).start()
    joined_running.wait_for(lambda p: p.running)
    first.gate.set()

    result = first.join()
    assert joined_waiting.join() is result and joined_running.join() is result
    assert events.count(("start", "same")) == 1 and q.computed == 2


def test_what_needs_no_model_is_answered_while_the_queue_is_full(tiny_bundle, log):
    q = ModelQueue(slots=1)
    events, lock = log
    cached = analyze(tiny_bundle, _image(3))  # an analysis the learner already has
    running = Learner(q, "x", lambda: analyze(tiny_bundle, _image(4)), events, lock).start()
    running.wait_for(lambda p: p.running)
    waiting = Learner(q, "y", lambda: analyze(tiny_bundle, _image(5)), events, lock).start()
    waiting.wait_for(lambda p: not p.running)

    # a slider change on the Attention page: a figure from the cached analysis, not through the queue
    fig = views.cls_map(tiny_bundle, cached, cached.depth - 1, None, 0.6, 0)
    assert fig.data and q.counts() == (1, 1)  # answered while both model jobs still hold their places

    running.gate.set()
    waiting.gate.set()
    running.join(), waiting.join()


def test_a_failing_job_fails_for_everyone_who_asked_and_the_queue_goes_on(log):
    q = ModelQueue(slots=1)
    events, lock = log

    def boom():
        raise RuntimeError("no model")

    blocker = Learner(q, "first", lambda: 1, events, lock).start()
    blocker.wait_for(lambda p: p.running)
    a = Learner(q, "bad", boom, events, lock).start()
    a.wait_for(lambda p: not p.running)
    b = Learner(q, "bad", boom, events, lock).start()
    b.wait_for(lambda p: not p.running)
    blocker.gate.set()
    a.gate.set()
    with pytest.raises(RuntimeError, match="no model"):
        a.join()
    with pytest.raises(RuntimeError, match="no model"):
        b.join()
    assert q.run("after", lambda: 42) == 42 and q.counts() == (0, 0)


def test_a_caller_that_stops_waiting_leaves_the_line(log):
    q = ModelQueue(slots=1)
    events, lock = log
    blocker = Learner(q, "first", lambda: 1, events, lock).start()
    blocker.wait_for(lambda p: p.running)

    class Stopped(Exception):
        pass

    def stop(_place: Place) -> None:
        raise Stopped  # what a Streamlit script being rerun does at its next drawing call

    with pytest.raises(Stopped):
        q.run("gone", lambda: pytest.fail("a request nobody waits for must not run"), stop)
    assert q.counts() == (1, 0) and q.place("gone") is None
    blocker.gate.set()
    blocker.join()
    assert q.started_keys == ["first"]


def test_a_joined_request_takes_over_when_the_first_caller_leaves(log):
    q = ModelQueue(slots=1)
    events, lock = log
    blocker = Learner(q, "first", lambda: 1, events, lock).start()
    blocker.wait_for(lambda p: p.running)
    in_line, leaving = threading.Event(), threading.Event()

    def stop(place: Place) -> None:
        in_line.set()
        leaving.wait(WAIT)
        raise RuntimeError("stopped")

    first = threading.Thread(target=lambda: pytest.raises(RuntimeError, q.run, "k", lambda: "value", stop), daemon=True)
    first.start()
    assert in_line.wait(WAIT)
    stayer = Learner(q, "k", lambda: pytest.fail("unused: the first caller's job runs"), events, lock).start()
    stayer.wait_for(lambda p: not p.running)
    leaving.set()
    first.join(WAIT)
    blocker.gate.set()
    assert stayer.join() == "value" and q.started_keys == ["first", "k"]


def test_a_job_that_steps_out_lets_the_next_one_run_and_takes_its_slot_back_before_later_ones(log):
    q = ModelQueue(slots=1)
    events, lock = log
    out, back = threading.Event(), threading.Event()

    def page_asking_for_the_model() -> str:
        with q.stepped_out():  # e.g. a page waiting for an occlusion map
            with lock:
                events.append(("out", "page"))
            out.set()
            assert back.wait(WAIT)
        with lock:
            events.append(("back", "page"))
        return "page drawn"

    page = Learner(q, "page", page_asking_for_the_model, events, lock).start()
    page.wait_for(lambda p: p.running)
    page.gate.set()
    assert out.wait(WAIT)
    other = Learner(q, "other page", lambda: "other drawn", events, lock).start()
    other.wait_for(lambda p: p.running)  # started while the first page is out of its slot
    later = Learner(q, "later page", lambda: "later drawn", events, lock).start()
    assert later.wait_for(lambda p: not p.running).ahead == 1
    back.set()  # the first page wants its slot back while "other page" still holds it
    assert later.wait_for(lambda p: p.ahead == 2).ahead == 2  # "other page" running, the first page stepping back
    other.gate.set()
    assert other.join() == "other drawn" and page.join() == "page drawn"
    later.gate.set()
    assert later.join() == "later drawn"
    assert events == [("start", "page"), ("out", "page"), ("start", "other page"), ("end", "other page"),
                      ("back", "page"), ("end", "page"), ("start", "later page"), ("end", "later page")]
    assert q.counts() == (0, 0)


def test_stepping_out_outside_a_job_changes_nothing():
    q = ModelQueue(slots=1)
    with q.stepped_out():
        assert q.run("k", lambda: 7) == 7
    assert q.counts() == (0, 0)


def test_a_page_waiting_for_long_model_work_does_not_hold_up_other_pages(monkeypatch):
    """ui.caches.queued with ``step_out`` (a long experiment: ``Context.experiment(long=True)``) steps out of the
    page queue; short work keeps the page's slot."""
    from ui import caches  # noqa: PLC0415

    monkeypatch.setattr(caches, "PAGES", ModelQueue(slots=1))
    monkeypatch.setattr(caches, "QUEUE", ModelQueue(slots=1))
    in_model, release = threading.Event(), threading.Event()

    def experiment() -> str:
        in_model.set()
        assert release.wait(WAIT)
        return "occlusion map"

    results = {}
    first = threading.Thread(target=lambda: results.setdefault(
        "first", caches.PAGES.run("first page", lambda: caches.queued("experiment", experiment, step_out=True))),
        daemon=True)
    first.start()
    assert in_model.wait(WAIT)
    assert caches.PAGES.run("second page", lambda: "drawn") == "drawn"  # would block forever if the slot were held
    release.set()
    first.join(WAIT)
    assert results == {"first": "occlusion map"}

    inside = []  # short work: the page still holds its slot while the model runs it
    caches.PAGES.run("third page", lambda: caches.queued("short", lambda: inside.append(caches.PAGES.counts())))
    assert inside == [(1, 0)]
