"""A phone's width (390 px): smaller headings, whole labels instead of "…", and each chart's or table's
toolbar above it instead of on its title or on the line above. Wider screens, presenter mode on a projector
included, keep their layout; only metric labels are whole at every width.

Streamlit already stacks columns and fills the width with each chart below 640 px; this only fixes what it
leaves unreadable there."""

from __future__ import annotations

import streamlit as st

PHONE_MAX_PX = 640  # Streamlit's own breakpoint for stacking columns
TOOLBAR_REM = 1.75  # room above a chart or a table for its toolbar (camera, zoom, search, full screen)

PHONE_CSS = f"""
<style>
/* at every width: whole metric labels, wrapped, instead of cut off with "…" (three metrics side by side on the
   Bits page lost the end of their labels on a laptop too) */
[data-testid="stMain"] [data-testid="stMetricLabel"] .stMarkdownEllipsis,
[data-testid="stMain"] [data-testid="stMetricLabel"] .stMarkdownEllipsis p {{
  white-space: normal; text-overflow: clip; overflow-wrap: anywhere; }}
@media (max-width: {PHONE_MAX_PX}px) {{
  /* a stage title in two lines, not four; the image chooser comes into view sooner */
  h1 {{ font-size: 1.9rem !important; }}
  h2 {{ font-size: 1.45rem !important; }}
  h3 {{ font-size: 1.2rem !important; }}
  [data-testid="stMainBlockContainer"] {{ padding-top: 4.5rem; }}
  [data-testid="stMetricValue"] {{ font-size: 1.75rem; }}
  /* whole metric labels, button and link texts, wrapped, instead of cut off with "…" */
  [data-testid="stMain"] .stMarkdownEllipsis, [data-testid="stMain"] .stMarkdownEllipsis p,
  [data-testid="stPageLink-NavLink"] span, [data-testid="stPageLink-NavLink"] p {{
    white-space: normal; text-overflow: clip; overflow-wrap: anywhere; }}
  /* chart and table toolbars (always shown on touch screens) get their own strip above the chart or table,
     instead of covering the chart's title or the line above the table */
  [data-testid="stElementContainer"]:has(.js-plotly-plot) {{ margin-top: {TOOLBAR_REM}rem; overflow: visible; }}
  [data-testid="stElementContainer"]:has([data-testid="stDataFrame"]) {{ margin-top: {TOOLBAR_REM}rem; }}
  [data-testid="stPlotlyChart"] .js-plotly-plot {{ overflow: visible !important; }}
  [data-testid="stPlotlyChart"] .modebar-container {{ top: -{TOOLBAR_REM}rem !important; }}
  /* a formula wider than the screen scrolls sideways inside its own box instead of running off the edge, and a
     shadow at the edge where more of it lies says so (a phone hides scroll bars, so it looked cut off); the white
     covers scroll with the formula ("local") and hide each shadow once that end is reached */
  [data-testid="stMain"] .katex-display {{ overflow-x: auto; overflow-y: hidden; padding-bottom: 0.25rem;
    background: linear-gradient(to right, white 30%, rgba(255,255,255,0)) left / 2rem 100% no-repeat local,
                linear-gradient(to left, white 30%, rgba(255,255,255,0)) right / 2rem 100% no-repeat local,
                radial-gradient(farthest-side at 0 50%, rgba(0,0,0,.25), transparent) left / 0.9rem 100% no-repeat scroll,
                radial-gradient(farthest-side at 100% 50%, rgba(0,0,0,.25), transparent) right / 0.9rem 100% no-repeat scroll; }}
  /* chart titles a little smaller, so more of a long title fits the width */
  .js-plotly-plot .gtitle {{ font-size: 14px !important; }}
}}
</style>
"""


def phone_css() -> None:
    """Readable pages at a phone's width; the rules apply only below ``PHONE_MAX_PX``."""
    st.html(PHONE_CSS)
