"""Presenter mode, for a projector (1280×720 and up): the same pages, larger, with nothing taken away.

The one place for what presenter mode does to a page; charts get their part from ``ui.charts.chart`` (one rule
for every figure: ``vitviz.figures.style.presenter``). Here:
- the page's type is larger (no text under 16 px) and the main area uses the screen's width;
- columns that hold a chart stack, so each chart gets the whole width; other columns wrap when too narrow for
  their words (a link, a metric or a short column of text is never cut or broken inside a word);
- captions, legends and expanders stay (an expander is folded, as everywhere, and opens with a click);
- the sidebar folds away when presenter mode is switched on (its toggle opens it again) and opens when it is
  switched off; which model and weights run is then written above the page.
"""

from __future__ import annotations

import streamlit as st

from vitviz.model import provenance
from vitviz.model.loading import Bundle

from . import session

ROOT_PX = 24  # 1 rem on a projector; Streamlit sizes its text in rem, so every text grows with it
COLUMN_MIN_REM = 14  # narrower than this, a column of text wraps to the next line

CSS = f"""
<style>
html, body, [data-testid="stAppViewContainer"] {{ font-size: {ROOT_PX}px; }}
[data-testid="stMainBlockContainer"] {{ padding-left: 2rem; padding-right: 2rem; padding-top: 3.5rem;
  max-width: none; }}
h1 {{ font-size: 2.1rem !important; }} h2 {{ font-size: 1.6rem !important; }} h3 {{ font-size: 1.3rem !important; }}
[data-testid="stMetricValue"] {{ font-size: 1.9rem; }}
[data-testid="stMain"] code {{ font-size: max(0.85em, 16px); }}
[data-testid="stMain"] .katex {{ font-size: 1em; }}
[data-testid="stMain"] .katex-display {{ overflow-x: auto; overflow-y: hidden; padding-bottom: 0.25rem; }}
[data-testid="stMain"] [data-testid="stHorizontalBlock"] {{ flex-wrap: wrap; }}
[data-testid="stMain"] [data-testid="stColumn"] {{ min-width: min(100%, {COLUMN_MIN_REM}rem); }}
[data-testid="stMain"] [data-testid="stColumn"]:has([data-testid="stPlotlyChart"]) {{ min-width: 100%; }}
[data-testid="stMain"] .stMarkdownEllipsis, [data-testid="stMain"] .stMarkdownEllipsis p,
[data-testid="stMain"] [data-testid="stMetricValue"] > div, [data-testid="stMain"] [data-testid="stMetricDelta"] > div,
[data-testid="stPageLink-NavLink"] span, [data-testid="stPageLink-NavLink"] p {{
  white-space: normal; text-overflow: clip; overflow: visible; }}
</style>
"""

# Clicks Streamlit's own sidebar button, once, on the run after the switch: the sidebar then stays as the presenter
# leaves it (Streamlit's initial_sidebar_state is ignored once a browser has opened or closed the sidebar by hand).
_FOLD = """<script>
(() => {{
  const bar = document.querySelector('[data-testid="stSidebar"]');
  const open = bar !== null && bar.getAttribute('data-collapsed') === 'false';
  const button = {want_open} ? (open ? null : document.querySelector('[data-testid="stExpandSidebarButton"]'))
                             : (open ? document.querySelector('[data-testid="stSidebarCollapseButton"] button') : null);
  if (button) button.click();
}})();
</script>"""
_SWITCHED = "_vitviz_presenter_switched"


def switched() -> None:
    """The presenter toggle's ``on_change``: fold or open the sidebar on the run that follows."""
    st.session_state[_SWITCHED] = True


def apply() -> None:
    """The page CSS while presenter mode is on; the sidebar folded (or opened) right after the switch."""
    on = session.presenter()
    if on:
        st.html(CSS)
    if st.session_state.pop(_SWITCHED, False):
        with st.sidebar:
            st.html(_FOLD.format(want_open="false" if on else "true"), unsafe_allow_javascript=True)


def what_runs(bundle: Bundle) -> None:
    """Above the page while the sidebar is folded: which model runs, on what, with which weights."""
    if session.presenter():
        st.caption(f"**{bundle.spec.title}** · running on **{bundle.device.type.upper()}** · weights: "
                   f"{bundle.source} · {provenance.training_note(bundle.spec, bundle.provenance)}")
