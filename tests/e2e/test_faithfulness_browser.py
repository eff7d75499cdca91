"""The Faithfulness page in Chromium: the occlusion map, the curves and the measured verdict, a class switch."""

from tests.e2e.test_browser import assert_clean, go, open_home_with, shot, wait_charts, wait_idle


def test_faithfulness_page_in_a_real_browser(server, page, shots):
    open_home_with(page, server, "A star", 1400, 1000)
    go(page, "Faithfulness")
    assert page.locator(".js-plotly-plot").count() == 0  # the masked runs wait for a request
    page.get_by_role("button", name="Run the occlusion map and the curves").click()
    wait_idle(page)
    wait_charts(page, 3)
    assert_clean(page)
    assert page.locator(".gtitle").filter(has_text="Occlusion: drop of the score").count() == 1
    assert page.get_by_text("Deletion: most important removed first").count() == 1
    verdict = page.locator("strong").filter(has_text="On this image, for the probability of “star”").first
    assert "random" in verdict.inner_text()
    assert page.locator("table").filter(has_text="deletion area").count() == 1
    shot(page, shots, "faithfulness")
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Explain class").click()
    page.locator('[role="option"]').nth(1).click()
    wait_idle(page)
    wait_charts(page, 3)
    assert_clean(page)
    assert page.locator("strong").filter(has_text="On this image, for the probability of “star”").count() == 0
