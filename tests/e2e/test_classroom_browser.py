"""A class in two real browsers: a teacher in presenter mode on a projector (1280 × 720) and a learner on a phone
(390 × 844, touch). The learner opens the link the teacher's QR code holds (decoded from the teacher's screenshot with
OpenCV), follows two page changes and one "show everyone", then explores alone."""

import time

import numpy as np
import pytest
from PIL import Image

from tests.e2e.test_browser import assert_clean, choose_sample, wait_idle
from tests.e2e.test_phone_browser import PHONE
from vitviz.walkthrough import BY_KEY

PROJECTOR = {"width": 1280, "height": 720}
FOLLOW_S = 60  # how long a follower may take to show the teacher's change (a bound against a hang, not a timing)


def _decode_qr(path) -> str:
    cv2 = pytest.importorskip("cv2")
    rgb = np.asarray(Image.open(path).convert("RGB"))
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(rgb[:, :, ::-1].copy())
    assert points is not None and text, "no QR code found on the teacher's screen"
    return text


def _title(page) -> str:
    return page.locator("h1").first.inner_text()


def _wait_title(page, stage: str) -> None:
    page.wait_for_function("t => { const h = document.querySelector('h1'); return h && h.innerText.includes(t); }",
                           arg=BY_KEY[stage].headline, timeout=FOLLOW_S * 1000)
    wait_idle(page)


def _head_choice(page) -> str:
    return page.get_by_role("combobox", name="Head").first.input_value()


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the select box ``label`` (opened again if a rerun closed its list meanwhile)."""
    box = page.get_by_role("combobox", name=label).first
    box.scroll_into_view_if_needed()
    for _ in range(5):
        box.click()
        try:
            page.locator('[role="option"]').filter(has_text=option).first.click(timeout=5000)
            break
        except Exception:
            continue
    wait_idle(page)
    assert box.input_value() == option


@pytest.fixture
def teacher(browser):
    context = browser.new_context(viewport=PROJECTOR)
    p = context.new_page()
    yield p
    context.close()


@pytest.fixture
def learner(browser):
    context = browser.new_context(**PHONE)
    p = context.new_page()
    yield p
    context.close()


def test_a_class_on_a_projector_and_a_phone(server, teacher, learner, shots):
    # the teacher: presenter mode, a class, a sample, and the address learners reach
    teacher.goto(server)
    teacher.wait_for_selector("h1", timeout=60_000)
    wait_idle(teacher)
    teacher.locator('[data-testid="stSidebar"]').get_by_text("Presenter mode").click()
    wait_idle(teacher)
    teacher.get_by_role("button", name="Start a class").click()
    wait_idle(teacher)
    choose_sample(teacher, "A circle")
    address = teacher.get_by_label("The address learners reach")
    address.fill(server)
    address.press("Enter")
    wait_idle(teacher)
    assert_clean(teacher)
    code = teacher.locator('[data-testid="vitviz-join-code"]').inner_text().strip()
    shown_link = teacher.locator('[data-testid="vitviz-join-link"]').inner_text().strip()
    assert shown_link == f"{server}/?class={code}"
    teacher.locator('[data-testid="stImage"]').filter(has_text="Scan to join").scroll_into_view_if_needed()
    teacher.screenshot(path=str(shots / "class_teacher_join_panel.png"))
    link = _decode_qr(shots / "class_teacher_join_panel.png")
    assert link == shown_link  # the QR code holds the join link

    # the learner opens the link on a phone: the teacher's image, and the mode in words
    learner.goto(link)
    learner.wait_for_selector("text=Following the teacher", timeout=FOLLOW_S * 1000)
    wait_idle(learner)
    assert_clean(learner)
    assert learner.get_by_text("1 · Your image").count() == 1  # the home page, as the teacher's
    teacher.wait_for_selector("text=1 learner joined", timeout=FOLLOW_S * 1000)

    # page change 1: the teacher opens Attention from the home page
    teacher.get_by_role("link", name="Open Attention").click()
    _wait_title(teacher, "attention")
    _wait_title(learner, "attention")

    # "show everyone": the teacher picks head 1 and shows it
    _choose(teacher, "Head", "head 1")
    wait_idle(teacher)
    assert _head_choice(learner) == "mean of heads"  # a selection travels only when shown
    teacher.get_by_role("button", name="Show everyone").click()
    wait_idle(teacher)
    learner.wait_for_function("""() => [...document.querySelectorAll('input[role="combobox"][aria-label="Head"]')]
        .some(i => i.value === 'head 1')""", timeout=FOLLOW_S * 1000)
    wait_idle(learner)
    assert _head_choice(learner) == "head 1"
    learner.screenshot(path=str(shots / "class_learner_following.png"))

    # page change 2: the teacher goes back to Inside a block
    back = teacher.get_by_role("link", name="Inside a block").last
    back.scroll_into_view_if_needed()
    back.click()
    _wait_title(teacher, "block")
    _wait_title(learner, "block")
    assert_clean(learner)
    assert learner.url.endswith(f"/block?class={code}")  # the address names the page and the class: a reload rejoins

    # the learner explores alone: the teacher's next page does not move theirs
    learner.get_by_role("button", name="Explore alone").tap()
    learner.wait_for_selector("text=Exploring alone", timeout=FOLLOW_S * 1000)
    on_block = _title(learner)
    teacher.get_by_role("link", name="Attention").last.click()
    _wait_title(teacher, "attention")
    time.sleep(5)  # one of the learner's checks (every 4 s while exploring alone); exploring alone hands in no wake-up
    wait_idle(learner)
    assert _title(learner) == on_block
    assert learner.get_by_role("button", name="Follow the teacher").count() == 1
    learner.screenshot(path=str(shots / "class_learner_exploring.png"), full_page=False)
    teacher.screenshot(path=str(shots / "class_teacher_attention.png"))
    assert_clean(teacher)
    assert_clean(learner)
