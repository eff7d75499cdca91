"""A learner on a phone (390 × 844, touch): the image chooser, the prediction, and every stage page readable
without scrolling sideways."""

import re
import time

import pytest
from PIL import Image

from tests.conftest import png_bytes
from tests.e2e.test_browser import assert_clean, picker_value, wait_charts, wait_idle
from vitviz.walkthrough import STAGES as WALK

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True,
         # a phone's browser says it is one; Streamlit folds its sidebar away after a page is chosen only then
         "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/126.0.0.0 Mobile Safari/537.36"}
STAGES = [(s.title, s.key) for s in WALK]  # every stage page, in tour order
IMAGE_TYPES = (".jpg", ".jpeg", ".png", "image/")


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE)
    p = context.new_page()
    yield p
    context.close()


def sidebar_folded(page) -> bool:
    return page.locator('[data-testid="stExpandSidebarButton"]').is_visible()


def tap_page(page, title: str, path: str) -> None:
    """Open the folded sidebar with its button and tap a page in its navigation, as on a phone."""
    page.locator('[data-testid="stExpandSidebarButton"]').tap()
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.tap()
    page.wait_for_url(f"**/{path}", timeout=60_000)
    wait_idle(page)


def tap_sample(page, title: str) -> None:
    page.get_by_role("tab", name="Sample gallery").tap()
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Choose a sample").tap()
    page.locator('[role="option"]').filter(has_text=title).first.tap()
    wait_idle(page)


def sideways_overflow(page) -> int:
    """How many pixels the page is wider than the screen (0: no sideways scrolling)."""
    return page.evaluate("""Math.max(document.documentElement.scrollWidth, document.body.scrollWidth,
        document.querySelector('[data-testid=stMain]').scrollWidth) - window.innerWidth""")


def assert_first_chart_fits(page, where: str) -> None:
    chart = page.locator('[data-testid="stMain"] .js-plotly-plot').first
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    width = page.evaluate("window.innerWidth")
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, f"{where}: {box} vs {width} px"


def covered_titles(page) -> list[str]:
    """Chart titles that a chart's toolbar (camera, zoom, full screen) lies on."""
    return page.evaluate("""[...document.querySelectorAll('[data-testid=stMain] .js-plotly-plot')].flatMap(plot => {
        const title = plot.querySelector('.gtitle'), bar = plot.querySelector('.modebar');
        if (!title || !bar) return [];
        const t = title.getBoundingClientRect(), b = bar.getBoundingClientRect();
        const apart = b.width === 0 || t.right <= b.left || b.right <= t.left || t.bottom <= b.top || b.bottom <= t.top;
        return apart ? [] : [title.textContent];
    })""")


# An element is cut when a box clips what it draws: its own box (overflow not visible: "…" or a hard edge) or an
# ancestor's box that clips and ends before the element's content does. Content that only spills over its own
# box and is drawn whole is not cut: Debian's colour emoji glyph is 16 px wide in a page link's 14.4 px icon box,
# drawn whole next to the label (its box lets it overflow).
CUT_JS = """e => {
    if (e.scrollWidth <= e.clientWidth + 1) return false;
    const right = e.getBoundingClientRect().left + e.clientLeft + e.scrollWidth;
    for (let box = e; box && box !== document.documentElement; box = box.parentElement) {
        if (getComputedStyle(box).overflowX === 'visible') continue;
        if (box === e || right > box.getBoundingClientRect().right + 1) return true;
    }
    return false;
}"""


def cut_labels(page) -> list[str]:
    """Metric labels and values, buttons and page links (label and icon) that a box cuts off (see CUT_JS)."""
    return page.evaluate(f"""[...document.querySelectorAll(
        '[data-testid=stMain] .stMarkdownEllipsis, [data-testid=stMain] [data-testid=stPageLink-NavLink] span')]
        .filter({CUT_JS}).map(e => e.textContent)""")


def assert_readable(page, where: str) -> None:
    """No sideways scrolling, the first chart within the screen, titles free of toolbars, labels whole."""
    assert sideways_overflow(page) <= 0, where
    assert_first_chart_fits(page, where)
    assert covered_titles(page) == [], where
    assert cut_labels(page) == [], where


def full_shot(page, path) -> None:
    """The whole page: Streamlit scrolls its main area, not the document, so the window grows to its height."""
    size = page.viewport_size
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(height, 16_000)})
    wait_idle(page)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


def test_what_counts_as_cut_on_constructed_labels(phone):
    """The rule on labels whose answer is known by construction: clipped by their own box ("…" or a hard edge),
    clipped by a narrow ancestor, spilling over their own box but drawn whole, and fitting."""
    phone.set_content("""<div data-testid="stMain" style="font: 16px sans-serif">
      <div data-testid="stPageLink-NavLink"><span id="ellipsis" style="display:block; width:40px; overflow:hidden;
        white-space:nowrap; text-overflow:ellipsis">A label far too long</span></div>
      <div data-testid="stPageLink-NavLink"><span id="hard" style="display:block; width:40px; overflow:hidden;
        white-space:nowrap">A label far too long</span></div>
      <div data-testid="stPageLink-NavLink" style="width:30px; overflow:hidden"><span id="parent"
        style="display:block; width:20px; white-space:nowrap">A label far too long</span></div>
      <div data-testid="stPageLink-NavLink" style="width:100px"><span id="spills" style="display:flex; width:14px">
        <b style="display:inline-block; width:16px; flex:none">x</b></span></div>
      <div data-testid="stPageLink-NavLink"><span id="fits">Fits</span></div>
    </div>""")
    assert cut_labels(phone) == ["A label far too long"] * 3
    cut = {i: phone.locator(f"#{i}").evaluate(CUT_JS) for i in ("ellipsis", "hard", "parent", "spills", "fits")}
    assert cut == {"ellipsis": True, "hard": True, "parent": True, "spills": False, "fits": False}


def test_a_learners_walk_on_a_phone(server, phone, shots):
    page = phone
    page.goto(server)
    page.wait_for_selector("h1", timeout=60_000)
    wait_idle(page)
    assert sidebar_folded(page)

    # the image chooser lives in the page, not in the folded sidebar
    main = page.locator('[data-testid="stMain"]')
    assert main.get_by_role("tab", name="Sample gallery").is_visible()
    upload = main.locator('[data-testid="stFileUploaderDropzoneInput"]')
    assert upload.count() == 1
    accept = upload.get_attribute("accept") or ""
    assert any(t in accept.lower() for t in IMAGE_TYPES), accept  # image types: the photo library is offered
    assert sideways_overflow(page) <= 0

    tap_sample(page, "Chelsea the cat")
    wait_charts(page, 1)
    assert_clean(page)
    top5 = page.locator(".gtitle", has_text=re.compile(r"^Top 5 of"))
    assert main.locator(".js-plotly-plot").filter(has=top5).count() == 1  # the prediction
    assert_readable(page, "Home")
    full_shot(page, shots / "phone_home.png")

    for title, name in STAGES:
        tap_page(page, title, name)
        assert sidebar_folded(page), f"{title}: the sidebar still covers the page"
        run = page.get_by_role("button", name="Run the occlusion map and the curves")
        if name == "faithfulness" and run.count():  # shown at once when this image's maps were already run
            run.tap()
            wait_idle(page)
        wait_charts(page, 1)
        assert_clean(page)
        assert_readable(page, title)
        full_shot(page, shots / f"phone_{name}.png")


def test_the_camera_roll_upload_on_a_phone(server, phone):
    """An upload from the phone's photos becomes the image, and the prediction follows."""
    page = phone
    page.goto(server)
    page.wait_for_selector("h1", timeout=60_000)
    wait_idle(page)
    page.get_by_role("tab", name="Upload a photo").tap()
    photo = png_bytes(Image.new("RGB", (300, 200), (200, 120, 40)))
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "IMG_0001.png", "mimeType": "image/png", "buffer": photo}])
    wait_idle(page)
    wait_charts(page, 1)
    assert_clean(page)
    assert page.get_by_text("IMG_0001.png").count() >= 1
    assert sideways_overflow(page) <= 0


def scrolled(page) -> float:
    """How far the page is scrolled (Streamlit scrolls its main area, not the document)."""
    return page.evaluate("document.querySelector('[data-testid=stMain]').scrollTop + window.scrollY")


def swipe_up(page, cdp, element, distance: int = 150) -> float:
    """A finger put on ``element`` and moved up by ``distance`` px; how far the page scrolled."""
    element.scroll_into_view_if_needed()
    box = element.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    before = scrolled(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for k in range(1, 11):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y - distance * k / 10}]})
        time.sleep(0.02)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    time.sleep(0.5)
    return scrolled(page) - before


def tap_patch(page, fx: float, fy: float) -> None:
    """Tap the patch map (the page's first chart) at fractions (fx, fy) of its plotting area, twice: on a touch
    screen plotly selects a point only under an earlier hover, and the first tap is that hover (it shows the
    patch's label)."""
    area = page.locator('[data-testid="stMain"] .js-plotly-plot .nsewdrag').first
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
    page.touchscreen.tap(x, y)
    time.sleep(0.6)  # apart: two quick taps are a double tap, which clears a selection
    page.touchscreen.tap(x, y)
    wait_idle(page)


def test_a_finger_scrolls_over_a_chart_and_taps_a_patch(server, phone):
    page = phone
    page.goto(server)
    page.wait_for_selector("h1", timeout=60_000)
    wait_idle(page)
    tap_sample(page, "A ring")
    tap_page(page, "Patches", "patches")
    wait_charts(page, 2)
    cdp = page.context.new_cdp_session(page)
    charts = page.locator('[data-testid="stMain"] .js-plotly-plot')
    assert charts.nth(1).evaluate("p => p._fullLayout.dragmode") is False  # a chart without clicks: no drag mode
    assert swipe_up(page, cdp, charts.nth(1).locator(".nsewdrag").first) > 50, "a finger on a chart did not scroll"

    before = picker_value(page)
    tap_patch(page, 0.1, 0.1)  # the top-left patch: never the one selected before (the centre one)
    after = picker_value(page)
    assert after != before, "tapping a patch did not select it"
    page.wait_for_function(
        f"[...document.querySelectorAll('.js-plotly-plot .gtitle')].some(t => t.textContent.startsWith('Patch {after}: '))",
        timeout=30_000)
    assert_clean(page)
