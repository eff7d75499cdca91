"""The model queue as the app uses it: analyses and experiments go through it, identical requests are joined,
work started inside a queued job never waits for a second slot, and the home page says what happens to an image."""

import threading

from starlette.formparsers import MultiPartParser

from tests.app.pages import ok
from ui import caches, uploads, widgets
from vitviz.inputs.decode import load_image
from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model.analysis import image_hash
from vitviz.model.queue import ModelQueue


def test_concurrent_identical_analyses_run_once_and_nested_work_does_not_wait(monkeypatch, shapes_bundle):
    monkeypatch.setattr(caches, "QUEUE", ModelQueue(slots=1))
    monkeypatch.setattr(caches, "ANALYSES", caches.BoundedCache(2**30, lambda a: a.nbytes))
    image = load_image(SAMPLES["shape_heart"].data())
    before = shapes_bundle.forward_calls
    results, gate = [], threading.Barrier(3)

    def learner():
        gate.wait()
        results.append(caches.analysis_of(shapes_bundle, image))
    threads = [threading.Thread(target=learner) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 3 and all(r is results[0] for r in results)
    assert shapes_bundle.forward_calls == before + 1  # one forward pass for three identical requests
    # an experiment (a queued job holding the only slot) that needs another analysis gets it at once
    other = load_image(SAMPLES["shape_ring"].data())
    nested = caches.queued("experiment", lambda: caches.analysis_of(shapes_bundle, other))
    assert nested.image_hash == image_hash(other)
    assert caches.QUEUE.counts() == (0, 0)


def test_home_says_what_happens_to_an_image_and_uploads_stay_in_memory():
    from streamlit.testing.v1 import AppTest

    from tests.app.pages import ROOT
    MultiPartParser.spool_max_size = 1024 * 1024  # Starlette's default: rolls over to a file above 1 MB
    at = ok(AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300).run())
    assert any(c.value == widgets.PRIVACY for c in at.caption)
    assert MultiPartParser.spool_max_size >= uploads.SPOOL_BYTES  # the entry point kept uploads in memory


def test_pages_take_turns_and_a_waiting_one_shows_its_place(monkeypatch):
    """With every page slot taken, a visitor's page waits its turn (blocked, not competing for the interpreter),
    says where it stands, and is drawn in full once a slot frees."""
    from streamlit.testing.v1 import AppTest

    from tests.app.pages import ROOT
    from vitviz.model.queue import Place

    pages = ModelQueue(slots=1)
    monkeypatch.setattr(caches, "PAGES", pages)
    places: list[Place] = []
    real_run = pages.run

    def run(key, compute, on_wait=None):
        return real_run(key, compute, on_wait=lambda place: (places.append(place), on_wait(place)))
    monkeypatch.setattr(pages, "run", run)
    busy, release = threading.Event(), threading.Event()

    def other_visitor_page():
        busy.set()
        release.wait(60)
    holder = threading.Thread(target=lambda: real_run("another page", other_visitor_page))
    holder.start()
    busy.wait(10)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    mine = threading.Thread(target=at.run)
    mine.start()
    for _ in range(600):  # the page is in line behind the other one
        if pages.counts() == (1, 1):
            break
        threading.Event().wait(0.05)
    assert pages.counts() == (1, 1)
    release.set()
    holder.join(60)
    mine.join(120)
    ok(at)
    assert places[0] == Place(1, places[0].eta_s, next_up=True)
    assert places[0].sentence("page").startswith("Your page is next, after the 1 being worked on now (")
    assert places[-1].running and any(c.value == widgets.PRIVACY for c in at.caption)  # the home page, drawn
    assert pages.counts() == (0, 0)
