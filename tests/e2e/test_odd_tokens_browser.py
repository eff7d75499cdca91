"""The Odd tokens page in Chromium: the norm map and histogram, the verdict by its stated rule, the read-outs, and
the blank image's features (switching to the grey one reruns that section only)."""

import re

from tests.e2e.test_browser import assert_clean, go, open_home_with, shot, wait_charts, wait_idle


def test_odd_tokens_page_in_a_real_browser(server, page, shots):
    open_home_with(page, server, "A star", 1400, 1000)
    go(page, "Odd tokens")
    page.get_by_text("By the same rule").first.wait_for(timeout=120_000)
    wait_charts(page, 8)
    assert_clean(page)
    verdict = page.locator("strong").filter(has_text="None here.").or_(
        page.locator("strong").filter(has_text="Tokens far above the rest, here."))
    assert verdict.count() == 1
    assert page.locator(".gtitle").filter(has_text="Patch token norms after block 4").count() == 1
    assert page.locator(".gtitle").filter(has_text=re.compile(r"^Token norms after block 4$")).count() == 1
    assert page.get_by_text("colour edges, is 0 everywhere on it").count() == 1  # the bundled model's 4th channel, measured
    shot(page, shots, "odd_tokens")
    page.locator('[data-testid="stRadio"]').filter(has_text="Blank image").get_by_text("a uniform grey image").click()
    wait_idle(page)
    page.get_by_text("the feature of a uniform grey image (every pixel 128) at the same position").first.wait_for(
        timeout=120_000)
    assert page.locator(".gtitle").filter(has_text="A uniform grey image (every pixel 128): its").count() == 1
    assert_clean(page)
