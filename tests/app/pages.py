"""Opening a page as a learner does, for the AppTest files: pick a model, choose a sample, go to a stage."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from vitviz.walkthrough import BY_KEY

ROOT = Path(__file__).resolve().parents[2]


def ok(at: AppTest) -> AppTest:
    """No traceback and no error box on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def open_page(model: str, sample: str, stage: str) -> AppTest:
    """The app with ``model`` picked and the gallery ``sample`` chosen, showing ``stage``'s page."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.session_state["vitviz_model"] = model
    at.run()
    at.selectbox(key="vitviz_sample").select(sample).run()
    at.switch_page(BY_KEY[stage].page).run()
    return at
