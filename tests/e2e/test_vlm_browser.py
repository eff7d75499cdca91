"""Into a language model in Chromium, offline (no SmolVLM weights on this machine, as in class before a fetch):
the crops drawn on the image, the views, one image token's patches, the prompt strip and the counts, one sentence
on how to fetch the weights, no answer offered; then in presenter mode on a projector (1280 × 720)."""

from tests.e2e.test_browser import assert_clean, go, open_home_with, shot, wait_charts, wait_idle
from tests.e2e.test_presenter_browser import PROJECTOR, measure
from vitviz.model import smolvlm


def test_vlm_page_offline_in_a_real_browser(server, page, shots):
    open_home_with(page, server, "A star", 1400, 1000)
    go(page, "Into a language model")
    wait_charts(page, 3)
    assert_clean(page)
    main = page.locator('[data-testid="stMain"]')
    text = main.inner_text()
    assert smolvlm.FETCH_COMMAND in text and "needs the model's weights" in text
    assert main.locator(".gtitle").filter(has_text="4 × 4 crops of 512 px").count() == 1
    assert main.locator(".gtitle").filter(has_text="What the encoder reads: 17 images").count() == 1
    assert main.locator(".gtitle").filter(has_text="Image token").count() == 1
    assert "<global-img>" in text and "<fake_token_around_image>" in text and "1,088" in text
    assert page.get_by_role("button", name="Write the answer").count() == 0
    shot(page, shots, "vlm_offline")
    page.get_by_label("Your question").fill("How many corners?")
    page.keyboard.press("Enter")
    wait_idle(page)
    assert "“How many corners?" in main.inner_text()
    assert_clean(page)


def test_vlm_page_in_presenter_mode(server, page, shots):
    open_home_with(page, server, "A star", PROJECTOR["width"], PROJECTOR["height"])
    go(page, "Into a language model")
    page.locator('[data-testid="stSidebar"]').get_by_text("Presenter mode").click()
    wait_idle(page)
    wait_charts(page, 3)
    assert_clean(page)
    page.locator('[data-testid="stMain"]').evaluate("m => m.scrollTo(0, 0)")
    measure(page, "vlm")
    shot(page, shots, "presenter_vlm_top")
    page.locator('[data-testid="stMain"]').evaluate("""m => {
        const top = m.querySelector('[data-testid="stPlotlyChart"]').getBoundingClientRect().top;
        m.scrollBy(0, top - document.querySelector('[data-testid="stHeader"]').getBoundingClientRect().bottom); }""")
    shot(page, shots, "presenter_vlm")
