"""Your own model in Chromium: a timm name (its weights in the local Hugging Face cache) and an uploaded
.safetensors file, each sized in the sidebar, picked with one click, and shown with their own prefix tokens."""

import hashlib
import os

import pytest
import timm
import torch
from safetensors.torch import save, save_file

from tests.e2e.conftest import start_server, stop_server
from tests.e2e.test_browser import assert_clean, choose_sample, go, wait_charts, wait_idle
from tests.fakehub import COMMIT

NAME = "deit_tiny_distilled_patch16_224.fb_in1k"
PORT = int(os.environ.get("VITVIZ_OWN_E2E_PORT", "0")) or None  # a fixed port where the machine asks for one


def fill_cache(cache, repo: str, data: bytes) -> None:
    """The Hugging Face cache layout: refs/main -> a snapshot whose model.safetensors links to its blob."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    for sub in ("refs", "blobs", f"snapshots/{COMMIT}"):
        (folder / sub).mkdir(parents=True)
    (folder / "refs" / "main").write_text(COMMIT)
    blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
    blob.write_bytes(data)
    (folder / "snapshots" / COMMIT / "model.safetensors").symlink_to(os.path.relpath(blob, folder / "snapshots" / COMMIT))


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    cache = tmp_path_factory.mktemp("hf_cache")
    torch.manual_seed(7)
    fill_cache(cache, f"timm/{NAME}", save(timm.create_model(NAME, pretrained=False).state_dict()))
    proc, url = start_server({"HF_HUB_CACHE": str(cache)}, port=PORT)
    yield url
    stop_server(proc)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    torch.manual_seed(8)
    model = timm.create_model("vit_small_patch14_reg4_dinov2", pretrained=False, depth=2, embed_dim=96, num_heads=2,
                              img_size=70)
    path = tmp_path_factory.mktemp("weights") / "my_dinov2.safetensors"
    save_file(model.state_dict(), str(path))
    return path


def open_own_model(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("h1", timeout=60_000)
    wait_idle(page)
    page.locator('[data-testid="stSidebar"]').get_by_text("Your own model").click()
    wait_idle(page)


def use_it(page) -> None:
    page.get_by_role("button", name="Use this model").click()
    wait_idle(page)


def sidebar_text(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def sequence_title(page) -> str:
    go(page, "Patches")
    wait_charts(page, 2)
    title = page.locator(".gtitle").filter(has_text="The sequence the transformer reads").first.text_content()
    return "".join(title.split())  # plotly breaks a long title into lines: compare without the spaces


def test_a_model_by_its_timm_name_in_a_real_browser(own_server, page, shots):
    open_own_model(page, own_server)
    box = page.get_by_label("timm name with its pretrained tag", exact=True)
    box.fill(NAME)
    box.press("Enter")
    wait_idle(page)
    assert "5.9 M parameters: 24 MB downloaded" in sidebar_text(page)  # said before anything is loaded
    use_it(page)
    choose_sample(page, "Chelsea the cat")
    wait_charts(page, 1)
    assert_clean(page)
    assert "weights: local Hugging Face cache" in sidebar_text(page)
    assert sequence_title(page).startswith("Thesequencethetransformerreads:CLS,distillationfirst")
    assert_clean(page)
    page.screenshot(path=str(shots / "own_model_name.png"))


def test_a_model_from_an_uploaded_file_in_a_real_browser(own_server, page, weights_file, shots):
    open_own_model(page, own_server)
    page.locator('[data-testid="stSidebar"]').get_by_text("a .safetensors file").click()
    wait_idle(page)
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(weights_file))
    wait_idle(page)
    box = page.get_by_label("Its timm architecture", exact=True)
    box.fill("vit_small_patch14_reg4_dinov2")
    box.press("Enter")
    wait_idle(page)
    assert "MB read from your file; 70×70 px in 14-px patches, 30 tokens" in sidebar_text(page)
    use_it(page)
    choose_sample(page, "Chelsea the cat")  # no classifier: no prediction chart on the home page
    assert_clean(page)
    assert "weights: your file my_dinov2.safetensors" in sidebar_text(page)
    title = sequence_title(page)
    assert "CLS,register1,register2,register3,register4first" in title
    assert_clean(page)
    page.screenshot(path=str(shots / "own_model_file.png"))
