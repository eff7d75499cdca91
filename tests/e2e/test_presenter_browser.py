"""Presenter mode on a projector (1280 × 720): every page, measured in the browser. Presenter mode enlarges and
takes no meaning away: every text of the page and of its figures is at least 16 px, the page's main figure (its
first chart: the picture that opens the page) takes the content's width, the sidebar is folded, and which weights
run and the fallback notice (one line) stay in view."""

import time

from tests.e2e.test_browser import assert_clean, shot, wait_charts, wait_idle
from vitviz.figures.style import PRESENTER_MIN_PX
from vitviz.walkthrough import STAGES

PROJECTOR = {"width": 1280, "height": 720}
FIGURE_SHARE = 0.9  # the main figure's box: at least this share of the content's width
PLOT_SHARE = 0.4  # its plotting area (a square map is as tall as the screen allows: about 0.45 of 1280 px)

MEASURE = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const block = document.querySelector('[data-testid="stMainBlockContainer"]');
  const style = getComputedStyle(block);
  const content = block.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const shown = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0
                       && getComputedStyle(e).visibility !== 'hidden'; };
  const smallest = list => list.sort((a, b) => a[0] - b[0]).slice(0, 3);
  const text = [];  // every element of the page with text of its own (formulas are KaTeX's, in em of the page's)
  for (const e of main.querySelectorAll('*')) {
    if (e.closest('svg') || e.closest('.katex')) continue;
    if ([...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()) && shown(e))
      text.push([parseFloat(getComputedStyle(e).fontSize), e.textContent.trim().slice(0, 40)]);
  }
  const svg = [...main.querySelectorAll('.js-plotly-plot svg text')].filter(t => t.textContent.trim() && shown(t))
    .map(t => [parseFloat(getComputedStyle(t).fontSize), t.textContent.trim().slice(0, 40)]);
  const chart = main.querySelector('[data-testid="stPlotlyChart"]');
  // the plotting area: the drawn images of a map (a square map's axes span the whole width around it), else the
  // panels' areas
  const images = [...chart.querySelectorAll('.cartesianlayer image')];
  const areas = (images.length ? images : [...chart.querySelectorAll('.nsewdrag')]).map(a => a.getBoundingClientRect());
  const plot = areas.length ? Math.max(...areas.map(a => a.right)) - Math.min(...areas.map(a => a.left)) : 0;
  return {content, text: smallest(text), svg: smallest(svg), texts: svg.length,
          figure: chart.getBoundingClientRect().width, plot,
          sidebar: document.querySelector('[data-testid="stSidebar"]').getAttribute('data-collapsed')};
}"""


def measure(page, name: str) -> dict:
    m = page.evaluate(MEASURE)
    print(f"{name}: text ≥ {m['text'][0][0]} px, {m['texts']} figure texts ≥ {m['svg'][0][0]} px, main figure "
          f"{m['figure']:.0f} px ({m['figure'] / m['content']:.0%}), plot {m['plot']:.0f} px "
          f"({m['plot'] / m['content']:.0%}) of {m['content']:.0f} px")
    assert m["sidebar"] == "true", f"{name}: the sidebar is not folded"
    assert m["text"][0][0] >= PRESENTER_MIN_PX, (name, m["text"])
    assert m["texts"] and m["svg"][0][0] >= PRESENTER_MIN_PX, (name, m["svg"])
    assert m["figure"] >= FIGURE_SHARE * m["content"], (name, m)
    assert m["plot"] >= PLOT_SHARE * m["content"], (name, m)
    return m


def assert_what_runs_is_in_view(page, name: str) -> None:
    """The weights line and the fallback notice (tests run offline: the default model falls back) are shown, and
    the notice is one line."""
    weights = page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]').filter(has_text="weights:")
    assert weights.first.is_visible(), f"{name}: which weights run is not in view"
    notice = page.locator('[data-testid="stMain"] [data-testid="stAlertContentWarning"]').filter(
        has_text="runs instead of").first
    assert notice.is_visible(), f"{name}: the fallback notice is not in view"
    lines = notice.evaluate("""n => { const p = n.querySelector('p');
        return p.getBoundingClientRect().height / parseFloat(getComputedStyle(p).lineHeight); }""")
    assert lines < 1.5, f"{name}: the fallback notice takes {lines:.1f} lines"


def choose_sample(page, title: str) -> None:
    """The gallery's sample ``title``; the list is opened again if a rerun closed it before the click."""
    page.get_by_role("tab", name="Sample gallery").click()
    for attempt in range(4):
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Choose a sample").click()
        try:
            page.locator('[role="option"]').filter(has_text=title).first.click(timeout=10_000)
            break
        except Exception:
            if attempt == 3:
                raise
            page.keyboard.press("Escape")
            wait_idle(page)
    wait_idle(page)


def next_page(page, label: str) -> None:
    """Follow the tour's link (the sidebar is folded, as a presenter leaves it)."""
    link = page.locator('[data-testid="stMain"] [data-testid="stPageLink-NavLink"]').filter(has_text=label).last
    link.scroll_into_view_if_needed()
    link.click()
    page.wait_for_selector("h1")
    wait_idle(page)


def test_presenter_mode_at_projector_size(server, page, shots):
    page.set_viewport_size(PROJECTOR)
    page.goto(server)
    page.wait_for_selector("h1", timeout=60_000)
    wait_idle(page)
    choose_sample(page, "A star")
    wait_charts(page, 1)
    page.locator('[data-testid="stSidebar"]').get_by_text("Presenter mode").click()
    wait_idle(page)
    for i, stage in enumerate((None, *STAGES)):
        name = stage.key if stage else "home"
        if stage is not None:
            next_page(page, f"Open {stage.title}" if i == 1 else f"{stage.title} →")
        run = page.get_by_role("button", name="Run the occlusion map and the curves")  # Faithfulness: on request
        if run.count():
            run.click()
            wait_idle(page)
        wait_charts(page, 1)
        assert_clean(page)
        page.locator('[data-testid="stMain"]').evaluate("m => m.scrollTo(0, 0)")
        assert_what_runs_is_in_view(page, name)
        measure(page, name)
        page.locator('[data-testid="stMain"]').evaluate("""m => {  // the main figure's top just under the header
            const top = m.querySelector('[data-testid="stPlotlyChart"]').getBoundingClientRect().top;
            m.scrollBy(0, top - document.querySelector('[data-testid="stHeader"]').getBoundingClientRect().bottom); }""")
        time.sleep(0.5)
        shot(page, shots, f"presenter_{name}")  # the main figure, as the room sees it
