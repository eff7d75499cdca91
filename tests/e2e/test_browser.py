"""The real browser path: every page in Chromium, samples, an upload, patch clicks, a bad file, screenshots."""

import time

import numpy as np
import pytest
from PIL import Image

from tests.conftest import png_bytes
from vitviz.figures.diagram import X_RANGE, y_range

PAGES = [("Patches", "patches"), ("Vectors", "vectors"), ("Inside a block", "block"), ("Attention", "attention"),
         ("Positions", "positions"), ("Bits & memory", "bits")]


def wait_charts(page, count: int, timeout_ms: int = 120_000) -> None:
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {count}", timeout=timeout_ms)
    wait_idle(page)


def wait_idle(page, timeout: float = 120) -> None:
    """Wait until Streamlit has finished running the script and the charts are drawn."""
    time.sleep(1.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count()
        spinners = page.locator('[data-testid="stSpinner"]').count()
        if not running and not spinners:
            break
        time.sleep(0.3)
    time.sleep(0.8)


def assert_clean(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0, page.locator(
        '[data-testid="stAlertContentError"]').first.inner_text()


def choose_sample(page, title: str) -> None:
    page.get_by_role("tab", name="Sample gallery").click()
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Choose a sample").click()
    page.locator('[role="option"]').filter(has_text=title).first.click()
    wait_idle(page)


def go(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    page.wait_for_selector("h1")
    wait_idle(page)


def shot(page, folder, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"))


def picker_value(page) -> str:
    """The selected patch: the sidebar's number input, its one home."""
    return page.locator('[data-testid="stSidebar"] [data-testid="stNumberInput"] input').first.input_value()


def click_patch(page, chart_index: int, fx: float, fy: float) -> None:
    """Click inside the chart's plotting area at fractions (fx, fy) of its width and height."""
    area = page.locator(".js-plotly-plot .nsewdrag").nth(chart_index)
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    wait_idle(page)


def click_chart(page, title_start: str, fx: float, fy: float) -> None:
    """Click the chart whose title starts with ``title_start`` at fractions (fx, fy) of its plotting area."""
    plot = page.locator(".js-plotly-plot").filter(has=page.locator(".gtitle", has_text=title_start)).first
    area = plot.locator(".nsewdrag").first
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    wait_idle(page)


def step_header(page) -> str:
    """The heading of the step the block page shows ("2 · MLP (step 5 of 6): …")."""
    return page.locator("h2").filter(has_text="2 · ").first.inner_text()


def wait_step(page, start: str) -> None:
    """Wait until the block page shows the step whose heading starts with "2 · " + ``start``."""
    page.wait_for_function(f"[...document.querySelectorAll('h2')].some(h => h.textContent.startsWith('2 · {start}'))",
                           timeout=30_000)


def open_home_with(page, server: str, sample: str, width: int, height: int) -> None:
    """Open the app at a window size and choose a sample; the prediction chart is drawn."""
    page.set_viewport_size({"width": width, "height": height})
    page.goto(server)
    page.wait_for_selector("h1", timeout=60_000)
    wait_idle(page)
    choose_sample(page, sample)
    wait_charts(page, 1)


@pytest.mark.parametrize("path, title", [("patches", "Patches"), ("bits", "Bits")])
def test_a_direct_link_to_a_stage_opens_it_under_the_apps_own_navigation(server, page, path, title):
    page.goto(f"{server}/{path}")
    page.wait_for_selector("h1", timeout=60_000)
    wait_idle(page)
    assert title in page.locator("h1").first.inner_text()
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Home" in nav and "Bits & memory" in nav and "streamlit app" not in nav
    assert_clean(page)


def test_every_page_in_a_real_browser(server, page, shots):
    open_home_with(page, server, "A star", 1400, 1000)
    assert_clean(page)
    shot(page, shots, "home")

    # upload a photo
    rng = np.random.default_rng(0)
    photo = png_bytes(Image.fromarray(rng.integers(0, 255, (150, 200, 3), dtype=np.uint8)))
    page.get_by_role("tab", name="Upload a photo").click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "noise.png", "mimeType": "image/png", "buffer": photo}])
    wait_idle(page)
    assert page.get_by_text("noise.png").count() >= 1
    assert_clean(page)

    # a bad file: a clear message, and the image stays
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"not a picture at all"}])
    wait_idle(page)
    assert page.get_by_text("“fake.png” was not used").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stSidebar"]').get_by_text("noise.png").count() == 1

    choose_sample(page, "A ring")
    for title, name in PAGES:
        go(page, title)
        wait_charts(page, 2)
        assert_clean(page)
        if name in ("patches", "attention"):
            before = picker_value(page)
            spot = (0.1, 0.1) if name == "patches" else (0.85, 0.8)  # never the patch selected before
            click_patch(page, 0, *spot)
            after = picker_value(page)
            assert after != before, f"{title}: clicking a patch did not select it"
            # the figure that depends on the selected patch was redrawn for the new one
            dependent = f"Patch {after}: " if name == "patches" else f"Where patch {after} looks"
            page.wait_for_function(
                f"[...document.querySelectorAll('.js-plotly-plot .gtitle')].some(t => t.textContent.startsWith({dependent!r}))",
                timeout=30_000)
            assert_clean(page)
        shot(page, shots, name)


def test_block_page_clicks_on_the_diagram_and_on_the_image(server, page, shots):
    open_home_with(page, server, "A star", 1400, 1000)
    go(page, "Inside a block")
    wait_charts(page, 5)
    assert_clean(page)
    assert "Multi-head attention" in step_header(page)  # the page opens on attention
    # the diagram: 8 boxes stacked at y = 0 … 7 (top to bottom) over y_range(8), their centres at x = 0 over X_RANGE
    top, bottom = y_range(8)[1], y_range(8)[0]
    at = lambda box: ((0 - X_RANGE[0]) / (X_RANGE[1] - X_RANGE[0]), (box - top) / (bottom - top))  # noqa: E731
    click_chart(page, "One block of", *at(5))  # the MLP box
    wait_step(page, "MLP (step 5")
    assert page.locator(".gtitle", has_text="The MLP on patch").count() == 1
    assert_clean(page)
    click_chart(page, "One block of", *at(1))  # the first LayerNorm
    wait_step(page, "LayerNorm (step 1")
    click_chart(page, "One block of", *at(2))  # back to attention
    wait_step(page, "Multi-head attention (step 2")
    wait_charts(page, 5)
    shot(page, shots, "block_attention")
    before = picker_value(page)
    click_chart(page, "softmax:", 0.45, 0.15)  # a patch near the top of the image (the image is centred, square)
    after = picker_value(page)
    assert after != before, "clicking a patch on the image did not select it"
    page.wait_for_function(  # the query's figures were redrawn for the new patch
        f"[...document.querySelectorAll('.js-plotly-plot .gtitle')].some(t => t.textContent.startsWith("
        f"'softmax: the attention row, patch {after},'))",
        timeout=30_000)
    assert_clean(page)
    shot(page, shots, "block_clicked")


def test_handout_opens_offline_with_every_figure(browser, tmp_path, shapes_bundle):
    from vitviz.model.analysis import analyze
    from vitviz.inputs.decode import load_image
    from vitviz.handout import figure_count, handout_html
    from vitviz.inputs.samples import BY_KEY

    image = load_image(BY_KEY["shape_star"].data())
    page_html = handout_html(shapes_bundle, analyze(shapes_bundle, image), "star.png")
    path = tmp_path / "handout.html"
    path.write_text(page_html, encoding="utf-8")
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {figure_count(page_html)}",
                           timeout=60_000)
    drawn = page.evaluate("[...document.querySelectorAll('.js-plotly-plot')].filter(d => d.querySelector('svg')).length")
    assert drawn == figure_count(page_html)
    assert not failed
    context.close()


def test_several_users_at_once_on_one_server(server, browser, shapes_bundle):
    """Four browser sessions choose different images at the same moment; each sees its own prediction."""
    from vitviz.model.analysis import analyze
    from vitviz.figures.prediction import short_label
    from vitviz.inputs.decode import load_image
    from vitviz.inputs.samples import BY_KEY

    keys = ["shape_circle", "shape_cross", "shape_heart", "shape_star"]
    samples = {BY_KEY[k].title: k for k in keys}
    contexts, pages = [], []
    for _ in samples:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        p = ctx.new_page()
        p.goto(server)
        p.wait_for_selector("h1", timeout=60_000)
        contexts.append(ctx)
        pages.append(p)
    for p in pages:
        wait_idle(p)
        p.get_by_role("tab", name="Sample gallery").click()
    for p, title in zip(pages, samples):  # all four reruns are in flight on the server together
        p.locator('[data-testid="stSelectbox"]').filter(has_text="Choose a sample").click()
        p.locator('[role="option"]').filter(has_text=title).first.click()
    for p, (title, key) in zip(pages, samples.items()):
        wait_charts(p, 1)
        assert_clean(p)
        alone = analyze(shapes_bundle, load_image(BY_KEY[key].data()))
        labels = p.evaluate("""[...document.querySelectorAll('.js-plotly-plot')]
            .filter(d => (d.querySelector('.gtitle') || {}).textContent?.startsWith('Top '))
            .flatMap(d => [...d.querySelectorAll('.ytick text')].map(e => e.textContent))""")  # the top-5 chart only
        # categories run bottom to top: the best class is the last tick
        assert labels and labels[-1] == short_label(alone.top_labels[0]), (title, labels, alone.top_labels)
    for ctx in contexts:
        ctx.close()


def choose_number_format(page, title: str) -> None:
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Number format").click()
    page.locator('[role="option"]').filter(has_text=title).first.click()
    wait_idle(page)


def test_number_format_switch_on_two_pages(server, page, shots):
    open_home_with(page, server, "A star", 1400, 1000)
    go(page, "Attention")
    wait_charts(page, 2)
    patch = picker_value(page)
    choose_number_format(page, "int8")
    wait_charts(page, 2)
    assert_clean(page)
    line = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Running in int8").first
    assert "of fp32's" in line.inner_text() and "most probable class" in line.inner_text()
    assert "Not in int8" in page.locator('[data-testid="stAlertContentInfo"]').filter(has_text="no gradient").first.inner_text()
    assert picker_value(page) == patch and "Attention" in page.locator("h1").first.inner_text()
    shot(page, shots, "attention_int8")
    go(page, "Bits & memory")
    wait_charts(page, 3)
    assert_clean(page)
    section = page.locator("h2").filter(has_text="2 · This model in fewer bits").first
    section.scroll_into_view_if_needed()
    assert page.get_by_text("Weights stored, int8").count() == 1
    assert page.get_by_text("scale × (code − zero point)").count() >= 1
    shot(page, shots, "bits_int8")
    choose_number_format(page, "bf16")
    wait_charts(page, 3)
    assert_clean(page)
    assert page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Running in bf16").count() == 1 and page.get_by_text("Weights stored, bf16").count() == 1
    assert picker_value(page) == patch
