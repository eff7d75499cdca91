"""A class in one process: a teacher's session and learners' sessions (AppTest), sharing the process's registry
and caches as browsers of one server do. A learner's rerun stands for its poll (the fragment's timer does not tick
in AppTest; the poll's rerun runs the same frame)."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.pages import ROOT, ok
from tests.conftest import png_bytes
from ui import caches, classroom
from vitviz import classroom as vitviz_classroom
from ui.session import ChosenImage
from vitviz.inputs.decode import load_image
from vitviz.model.analysis import image_hash
from vitviz.classroom import NotTeacher, Shown
from vitviz.walkthrough import BY_KEY

APP = str(ROOT / "streamlit_app.py")


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=300)


def _teacher(sample: str = "shape_circle", model: str = "shapes") -> tuple[AppTest, str]:
    """A teacher in presenter mode who started a class and chose ``sample``."""
    t = _app()
    t.session_state["vitviz_model"] = model
    t.session_state["vitviz_presenter"] = True
    ok(t.run())
    ok(t.button(key="vitviz_class_start").click().run())
    ok(t.selectbox(key="vitviz_sample").select(sample).run())
    code, secret = t.session_state[classroom.K_TEACH]
    return t, code


def _by_link(code: str) -> AppTest:
    learner = _app()
    learner.query_params[classroom.QUERY] = code
    return ok(learner.run())


def _joined(at: AppTest) -> str | None:
    return at.session_state[classroom.K_JOINED] if classroom.K_JOINED in at.session_state else None


def _panel(at: AppTest) -> bool:
    """Whether the join panel (its link) is on the page."""
    return any("/?class=" in str(h.proto.body) for h in at.get("html"))


def _title(at: AppTest) -> str:
    return at.title[0].value


def _ctx(at: AppTest):
    return at.session_state["_vitviz_context"]


def _infos(at: AppTest) -> str:
    return " ".join(i.value for i in at.info)


def test_the_join_panel_shows_the_link_the_code_and_the_count():
    t, code = _teacher()
    assert _panel(t)
    panel = " ".join(str(h.proto.body) for h in t.get("html"))
    assert f"/?class={code}" in panel and code in panel
    assert t.text_input(key=classroom.K_ADDRESS).value.startswith("http")
    assert any("0** learners joined" in m.value for m in t.markdown)
    assert any("your image" in c.value for c in t.caption)  # the start panel says the image is shown to the class
    _by_link(code)
    ok(t.run())
    assert any(m.value == "**1** learner joined" for m in t.markdown)
    t.button(key="vitviz_class_panel").click().run()  # hidden: the class goes on
    assert not _panel(t)
    assert t.button(key="vitviz_class_show") is not None


def test_a_learner_joins_by_link_and_gets_the_teachers_identity():
    t, code = _teacher()
    ok(t.switch_page(BY_KEY["attention"].page).run())
    forwards = _ctx(t).bundle.forward_calls
    learner = _by_link(code)
    assert _title(learner) == _title(t)  # the teacher's page
    lc, tc = _ctx(learner), _ctx(t)
    assert lc.bundle.identity == tc.bundle.identity and lc.image.digest == tc.image.digest
    assert lc.analysis is tc.analysis  # one analysis for the class, from the shared cache
    assert tc.bundle.forward_calls == forwards  # the learner's page ran no forward pass
    assert "Following the teacher" in learner.success[0].value


def test_a_learner_joins_by_typing_the_code_in_any_case():
    t, code = _teacher()
    learner = _app()
    ok(learner.run())
    learner.text_input(key=classroom.K_CODE_INPUT).input(code.lower())
    ok(learner.button[[b.label for b in learner.button].index("Join")].click().run())
    assert _joined(learner) == code
    assert learner.session_state["vitviz_image"].digest == t.session_state["vitviz_image"].digest
    assert learner.query_params[classroom.QUERY] == code  # the address names the class, as a join link's does:
    # a reload rejoins, and a wake-up's rerun (which keeps the run's query string) keeps it


def test_following_page_changes_and_show_everyone():
    t, code = _teacher()
    learner = _by_link(code)
    assert _panel(t)
    ok(t.switch_page(BY_KEY["patches"].page).run())
    assert not _panel(t)  # the lesson goes on: the join panel folds away
    ok(learner.run())
    assert _title(learner) == _title(t)
    ok(t.switch_page(BY_KEY["attention"].page).run())
    ok(learner.run())
    assert _title(learner) == _title(t)
    # the teacher picks block 1, head 1 and patch 3, then shows everyone
    t.slider(key="attn_layer").set_value(1)
    t.selectbox(key="attn_head").set_value("head 1")
    t.number_input(key="vitviz_patch").set_value(3)
    ok(t.run())
    assert learner.slider(key="attn_layer").value != 1  # not before "show everyone"
    ok(t.button(key="vitviz_class_show").click().run())
    ok(learner.run())
    assert learner.slider(key="attn_layer").value == 1
    assert learner.selectbox(key="attn_head").value == "head 1"
    assert learner.number_input(key="vitviz_patch").value == 3
    # the same figure as the teacher's: one entry in the shared figure cache serves both
    assert _ctx(learner).key("built", "x") == _ctx(t).key("built", "x")


def test_a_page_switch_taken_over_by_another_run_is_made_again(monkeypatch):
    """A follower's switch to the teacher's page is a rerun that another request can take over (the tab's own check,
    sent with the page it shows). The change counts as applied only on the teacher's page, so the next run switches
    again instead of leaving the follower behind for good."""
    t, code = _teacher()
    learner = _by_link(code)
    ok(t.switch_page(BY_KEY["attention"].page).run())
    switches = []

    def lost_switch(page, **kwargs):  # the switch's rerun never comes: this run just ends
        switches.append(page)
        classroom.st.stop()

    monkeypatch.setattr(classroom.st, "switch_page", lost_switch)
    ok(learner.run())
    assert switches == [BY_KEY["attention"].page]
    assert [x.value for x in learner.title] != [_title(t)]  # left behind, for now
    monkeypatch.undo()
    ok(learner.run())  # the tab's next run (its check, a wake-up)
    assert _title(learner) == _title(t)


def test_exploring_alone_and_back():
    t, code = _teacher()
    learner = _by_link(code)
    ok(learner.button(key="vitviz_class_explore").click().run())
    assert "Exploring alone" in _infos(learner)
    ok(t.switch_page(BY_KEY["positions"].page).run())
    ok(learner.run())
    assert _title(learner) != _title(t)  # the learner's page stays
    ok(learner.selectbox(key="vitviz_sample").select("shape_square").run())  # the learner's own image
    assert learner.session_state["vitviz_image"].digest != t.session_state["vitviz_image"].digest
    ok(t.run())
    assert t.session_state["vitviz_image"].name == "A circle"  # a learner's image never reaches the class
    assert classroom.ROOM.get(code).state.image.sample == "shape_circle"
    ok(learner.button(key="vitviz_class_follow").click().run())
    assert _title(learner) == _title(t)
    assert learner.session_state["vitviz_image"].digest == t.session_state["vitviz_image"].digest
    assert "Following the teacher" in learner.success[0].value


def test_an_unknown_or_mistyped_code_says_so_and_the_app_works():
    learner = _by_link("0ZZZZ")
    assert "No class 0ZZZZ is running here" in _infos(learner)
    assert _joined(learner) is None
    ok(learner.selectbox(key="vitviz_sample").select("shape_circle").run())  # the app as usual
    assert learner.session_state["vitviz_image"] is not None
    learner.text_input(key=classroom.K_CODE_INPUT).input("hello!")
    ok(learner.button[[b.label for b in learner.button].index("Join")].click().run())
    assert "No class hello! is running here" in _infos(learner)


def test_a_typed_code_of_another_process_gets_its_join_link():
    """Behind nginx a class lives on the process its digit names; typed on another process, the code is not here,
    and the page offers the join link (a page load nginx routes); a code of this process that is not here is
    unknown, as before."""
    learner = _by_link("0ZZZZ")
    learner.text_input(key=classroom.K_CODE_INPUT).input("3abcd")
    ok(learner.button[[b.label for b in learner.button].index("Join")].click().run())
    said = _infos(learner)
    assert "Class 3ABCD is held by another of this server's app processes" in said and "(?class=3ABCD)" in said
    assert _joined(learner) is None
    learner.text_input(key=classroom.K_CODE_INPUT).input("0abcd")
    ok(learner.button[[b.label for b in learner.button].index("Join")].click().run())
    assert "No class 0abcd is running here" in _infos(learner)  # as typed


def test_a_learner_cannot_drive_the_class():
    t, code = _teacher()
    learner = _by_link(code)
    assert classroom.K_TEACH not in learner.session_state  # no secret in a learner's session
    assert learner.button(key="vitviz_class_explore") is not None
    assert "vitviz_class_show" not in [b.key for b in learner.button]  # no teacher's controls
    version = classroom.ROOM.version(code)
    ok(learner.button(key="vitviz_class_explore").click().run())
    ok(learner.switch_page(BY_KEY["bits"].page).run())  # the learner's own page moves nothing
    assert classroom.ROOM.version(code) == version
    for guess in (code, code.lower(), ""):  # the join code is no key to the class
        with pytest.raises(NotTeacher):
            classroom.ROOM.update(code, guess, page="bits")
        with pytest.raises(NotTeacher):
            classroom.ROOM.show(code, guess, Shown(patch=0))
        with pytest.raises(NotTeacher):
            classroom.ROOM.end(code, guess)
    assert classroom.ROOM.get(code).state.page == ""


def test_the_class_ends():
    t, code = _teacher()
    learner = _by_link(code)
    ok(t.button(key="vitviz_class_end").click().run())
    assert t.session_state[classroom.K_TEACH] is None
    assert classroom.ROOM.version(code) is None
    ok(learner.run())
    assert f"Class {code} has ended" in _infos(learner)
    assert _joined(learner) is None
    ok(learner.switch_page(BY_KEY["patches"].page).run())  # the app as usual
    late = _by_link(code)  # the old link now leads nowhere, in one sentence
    assert f"No class {code} is running here" in _infos(late)


def _upload(at: AppTest, image, name: str) -> None:
    """What the upload widget's callback leaves in a session (AppTest cannot send a file): the decoded file and
    its bytes (ui.widgets.accept_upload)."""
    data = png_bytes(image)
    decoded = load_image(data)
    at.session_state["vitviz_image"] = ChosenImage(decoded, name, "upload", image_hash(decoded), data)


def test_the_teachers_upload_is_shown_to_the_class_and_a_learners_is_not(photo):
    t, code = _teacher()
    _upload(t, photo, "teacher.png")
    ok(t.run())
    learner = _by_link(code)
    mine = learner.session_state["vitviz_image"]
    assert mine.name == "teacher.png" and mine.digest == t.session_state["vitviz_image"].digest
    assert _ctx(learner).analysis is _ctx(t).analysis
    second = _by_link(code)
    assert second.session_state["vitviz_image"] is mine  # decoded once for the whole class
    ok(learner.button(key="vitviz_class_explore").click().run())
    _upload(learner, photo.rotate(90), "learner.png")
    ok(learner.run())
    ok(t.run())
    assert classroom.ROOM.get(code).state.image.name == "teacher.png"
    ok(second.run())
    assert second.session_state["vitviz_image"].name == "teacher.png"


@pytest.mark.parametrize("name, port, expected", [
    ("myapp.streamlit.app", 443, "https://myapp.streamlit.app"),
    ("classroom.example.org", 8080, "http://classroom.example.org:8080"),
    ("localhost", 8501, None),  # not a name learners can reach: this machine's LAN address instead
    ("", 8502, None),
])
def test_the_join_address_is_the_public_name_or_this_machines_lan_address(monkeypatch, name, port, expected):
    options = {"browser.serverAddress": name, "browser.serverPort": port, "server.port": port}
    monkeypatch.setattr(classroom.st, "get_option", options.get)
    lan = classroom.lan_address()
    assert lan.count(".") == 3 and all(part.isdigit() for part in lan.split("."))
    assert classroom.default_address() == (expected or f"http://{lan}:{port}")


def test_a_class_on_a_random_weight_vit():
    """A zoo architecture with random weights (no download in tests): the follower runs the very same model, and the
    shown block and head fit its depth and heads."""
    from ui import caches
    from vitviz.model.loading import load_model
    if caches.MODELS.peek("vit_ti16") is None:
        caches.MODELS.put(load_model("vit_ti16", device="cpu", pretrained=False))
    t, code = _teacher(sample="cat", model="vit_ti16")
    ok(t.switch_page(BY_KEY["block"].page).run())
    learner = _by_link(code)
    assert _title(learner) == _title(t)
    assert _ctx(learner).bundle.identity == _ctx(t).bundle.identity
    assert _ctx(learner).analysis is _ctx(t).analysis
    depth, heads = _ctx(t).analysis.depth, _ctx(t).analysis.heads
    t.slider(key="block_layer").set_value(depth - 1)
    t.selectbox(key="block_head").set_value(heads - 1)
    ok(t.run())
    ok(t.button(key="vitviz_class_show").click().run())
    ok(learner.run())
    assert learner.slider(key="block_layer").value == depth - 1
    assert learner.selectbox(key="block_head").value == heads - 1


def test_the_teachers_run_wakes_the_followers_once_its_page_is_drawn(monkeypatch):
    """Each change wakes the class once, at the end of the teacher's run, also when the page ends with st.stop() (a
    page without an image does); a rerun that changed nothing wakes nobody. A follower's wake-up stands in here for
    the one a browser tab's session hands in (ui/wake.py needs the server; tests/e2e/test_class_wake.py has it)."""
    monkeypatch.setattr(vitviz_classroom, "LEARNER_WINDOW_S", 3600.0)  # the follower stays counted on a slow machine
    events: list[str] = []
    page_run = caches.PAGES.run

    def drawn(*args, **kwargs):
        try:
            return page_run(*args, **kwargs)
        finally:
            events.append("page")

    monkeypatch.setattr(caches.PAGES, "run", drawn)
    t, code = _teacher()
    woken: list[str] = []

    def wake() -> None:
        woken.append(classroom.ROOM.get(code).state.page)
        events.append("woken")

    classroom.ROOM.heartbeat(code, "follower", wake)
    events.clear()
    ok(t.switch_page(BY_KEY["patches"].page).run())
    assert woken == ["patches"]  # the class already on the teacher's page
    assert events[-2:] == ["page", "woken"] and events.count("woken") == 1  # and only once that page was drawn
    ok(t.run())
    assert woken == ["patches"]  # nothing changed: nobody is woken
    ok(t.switch_page(BY_KEY["faithfulness"].page).run())  # stops (st.stop) until its experiment is asked for
    assert not t.get("plotly_chart") and woken == ["patches", "faithfulness"]  # stopped early, woken all the same
    ok(t.button(key="vitviz_class_show").click().run())
    assert woken == ["patches", "faithfulness", "faithfulness"]
