"""Into a language model: a tiny random-weight SmolVLM (the real architecture from a config, no download) checked
against transformers itself — the processor's token count, where the template puts the image tokens, pixel
shuffle, the connector's projection, the token-by-token loop against ``generate``, attention rows."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from tests import vlm_tiny
from vitviz.model import smolvlm
from vitviz.stages import vlm


@pytest.fixture(scope="module")
def tiny():
    return vlm_tiny.build()


@pytest.fixture
def wide() -> Image.Image:
    rng = np.random.default_rng(1)
    return Image.fromarray((rng.random((50, 150, 3)) * 255).astype(np.uint8))


def test_real_sizes_give_64_tokens_per_512px_crop():
    s = smolvlm.PUBLISHED
    assert (s.crop, s.patch, s.scale_factor) == (512, 16, 4)
    assert s.patches_side ** 2 == 1024 and s.tokens_per_crop == 64 == s.image_seq_len
    assert (s.encoder_width, s.shuffled_width, s.lm_width) == (768, 12288, 576)
    assert s.longest_edge == 4 * 512


def test_real_architecture_has_256m_parameters():
    n = smolvlm.parameter_count()
    assert 250e6 < n < 260e6, n  # "SmolVLM-256M"


def test_cuts_follow_the_processor(tiny, wide):
    model, proc, s, _ = tiny
    cuts = vlm.cut(wide, s, proc.image_processor)
    out = proc.image_processor(images=[[wide]], return_row_col_info=True, return_tensors="np")
    assert (cuts.rows, cuts.cols) == (out["rows"][0][0], out["cols"][0][0]) == (1, 2)
    assert cuts.n_views == out["pixel_values"].shape[1] == 3  # two crops and the global view
    assert cuts.box(1) == (75.0, 0.0, 150.0, 50.0) and cuts.box(2) == (0.0, 0.0, 150.0, 50.0)
    back = vlm.to_pixels(out["pixel_values"][0])
    assert np.array_equal(cuts.crops, back[:, ::2, ::2])


def test_cut_crops_are_the_pixels_the_model_reads_on_a_photo():
    """The crops come from the processor before its rescale, normalisation and padding: on photos and a wide strip,
    at long sides that scale the image up and down, split or not, they are the model's own input pixels, mapped
    back."""
    from vitviz.inputs.decode import load_image
    from vitviz.inputs.samples import BY_KEY

    for photo, edge in ((load_image(BY_KEY["astronaut"].data()), 1024), (load_image(BY_KEY["astronaut"].data()), 256),
                        (load_image(BY_KEY["rocket"].data()), 512), (Image.new("RGB", (900, 120), (200, 30, 90)), 512),
                        (Image.new("RGB", (900, 120), (200, 30, 90)), 2048)):
        s = dataclasses.replace(smolvlm.PUBLISHED, longest_edge=edge)
        proc = vlm.image_processor(s)
        out = proc(images=[[photo]], return_row_col_info=True, return_tensors="np", size={"longest_edge": edge})
        cuts = vlm.cut(photo, s, proc)
        assert cuts.n_views == out["pixel_values"].shape[1] and cuts.crop == out["pixel_values"].shape[-1]
        assert np.array_equal(cuts.crops, vlm.to_pixels(out["pixel_values"][0])[:, ::2, ::2])


def test_image_token_count_equals_the_processors(tiny, wide):
    model, proc, s, _ = tiny
    inputs = vlm.inputs_for(proc, wide, "What is here?")
    cuts = vlm.cut(wide, s, proc.image_processor)
    n = int((inputs["input_ids"][0] == model.config.image_token_id).sum())
    assert n == vlm.image_token_count(cuts.rows, cuts.cols, s.image_seq_len) == 3 * 4
    pieces = vlm.strip(vlm.expanded_prompt("What is here?", cuts.rows, cuts.cols, s.image_seq_len))
    assert vlm.counts(pieces, "What is here?", False).image_tokens == n


def test_costs_are_the_processors_counts(wide):
    for cost in vlm.costs(wide.width, wide.height):
        proc = vlm.image_processor(smolvlm.Settings(**{**smolvlm.PUBLISHED.__dict__, "longest_edge": cost.longest_edge}))
        rows = proc(images=[[wide]], return_row_col_info=True, return_tensors="np")
        assert (cost.rows, cost.cols) == (rows["rows"][0][0], rows["cols"][0][0])
    assert vlm.costs(wide.width, wide.height)[0].image_tokens == 64  # one 512-px view: no split
    assert vlm.costs(wide.width, wide.height)[-1].image_tokens == (2 * 4 + 1) * 64  # 2048 px wide: 4 × 2 crops


def test_image_tokens_sit_where_the_template_puts_them(tiny, wide):
    model, proc, s, _ = tiny
    question = "What is here?"
    inputs = vlm.inputs_for(proc, wide, question)
    cuts = vlm.cut(wide, s, proc.image_processor)
    prompt = vlm.expanded_prompt(question, cuts.rows, cuts.cols, s.image_seq_len)
    tok = proc.tokenizer
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    assert ids == inputs["input_ids"][0].tolist()  # the strip's text is exactly what the processor feeds the model
    pieces = vlm.strip(prompt, lambda text: tok.tokenize(text))
    flat = []
    for p in pieces:
        flat += [p.text] * p.count if p.kind == "image" else [p.text] if p.kind == "special" else list(p.tokens)
    assert flat == tok.convert_ids_to_tokens(ids)
    assert [p.view for p in pieces if p.kind == "image"] == [0, 1, 2]
    assert [p.text for p in pieces if p.kind == "special"][:3] == ["<|im_start|>", "<fake_token_around_image>",
                                                                   "<row_1_col_1>"]
    assert "<global-img>" in [p.text for p in pieces] and pieces[-1].text.endswith("Assistant:")
    c = vlm.counts(pieces, question, True)
    assert c.total == len(ids)


def test_pixel_shuffle_equals_the_connectors_and_an_explicit_loop(tiny):
    model, _, _, _ = tiny
    x = torch.randn(2, 64, 32)  # [B, 8×8 patches, D]
    ours = vlm.pixel_shuffle(x, 4)
    assert torch.equal(ours, model.model.connector.pixel_shuffle(x, 4))
    grid = x.reshape(2, 8, 8, 32)
    for t in range(4):  # token t holds patches rows 4i…4i+3, cols 4j…4j+3, rows first
        i, j = divmod(t, 2)
        want = torch.cat([grid[:, 4 * i + r, 4 * j + c] for r in range(4) for c in range(4)], -1)
        assert torch.equal(ours[:, t], want)
    s = smolvlm.PUBLISHED
    assert vlm.token_patches(0, s)[:5] == [0, 1, 2, 3, 32] and vlm.token_patches(63, s)[-1] == 1023
    assert sorted(p for t in range(64) for p in vlm.token_patches(t, s)) == list(range(1024))


def test_projection_equals_the_connector(tiny, wide):
    model, proc, s, _ = tiny
    inputs = vlm.inputs_for(proc, wide, "What is here?")
    px = inputs["pixel_values"][0]
    opened = vlm.open_token(model, px, 1, 3, s)
    assert opened.max_abs_diff <= 1e-5 * max(1.0, opened.scale)
    assert opened.patch_vectors.shape == (16, 32) and opened.shuffled.shape == (512,) and opened.projected.shape == (48,)
    with torch.no_grad():  # the vectors the language model receives for that crop (get_image_features)
        features = model.model.get_image_features(inputs["pixel_values"], inputs["pixel_attention_mask"])
    feats = getattr(features, "pooler_output", features)
    feats = torch.cat(list(feats)) if isinstance(feats, (list, tuple)) else feats.reshape(-1, 48)
    assert np.allclose(feats[1 * 4 + 3].numpy(), opened.projected, atol=1e-5)
    assert np.allclose(opened.attention.astype(np.float32).sum(-1), 1, atol=2e-3)  # encoder rows sum to 1
    assert model.model.vision_model.config._attn_implementation == "sdpa"  # put back after reading


def test_token_by_token_loop_equals_generate(tiny, wide):
    model, proc, _, _ = tiny
    inputs = vlm.inputs_for(proc, wide, "What is here?")
    trace = vlm.greedy(model, proc, inputs, max_new_tokens=8, trained=False)
    with torch.no_grad():
        ref = model.generate(**inputs, do_sample=False, max_new_tokens=8)
    new = ref[0, inputs["input_ids"].shape[1]:].tolist()
    assert [s.token_id for s in trace.steps] == new
    for s in trace.steps:
        assert s.token_id == s.top_ids[0] and list(s.top_probs) == sorted(s.top_probs, reverse=True)
        assert 0 < sum(s.top_probs) <= 1 + 1e-6
    assert trace.row_sum_error < 1e-4  # every attention row read sums to 1
    assert trace.to_image.shape == (len(new), 2, 12)
    assert np.all(trace.image_share <= 1 + 1e-4) and np.all(trace.image_share >= 0)
    assert list(trace.image_positions) == (inputs["input_ids"][0] == model.config.image_token_id).nonzero().flatten().tolist()


def test_random_weights_never_make_an_answer_sentence(tiny, wide):
    model, proc, _, _ = tiny
    trace = vlm.greedy(model, proc, vlm.inputs_for(proc, wide, "Hi"), max_new_tokens=2, trained=False)
    with pytest.raises(ValueError):
        vlm.answer_sentence(trace)


def test_maps_go_back_onto_the_crops():
    cuts = vlm.Cuts(rows=2, cols=3, crop=64, width=300, height=200, crops=np.zeros((7, 32, 32, 3), np.uint8))
    trace = vlm.Trace([], np.arange(7 * 4), [], np.arange(7 * 4, dtype=np.float16).reshape(1, 1, 28), np.zeros((1, 1)),
                      0.0, "", 0.0, False, False, views=7, per_view=4)
    maps = vlm.view_maps(trace, 0, 0)
    assert maps.shape == (7, 2, 2) and maps[1, 0, 1] == 5
    big = vlm.pasted(maps, cuts)
    assert big.shape == (4, 6) and big[0, 2] == 4 and big[2, 0] == 12 and big[3, 5] == 23


def test_question_cleaning():
    assert vlm.clean_question("  ") == vlm.DEFAULT_QUESTION
    assert vlm.clean_question("a <image> b <end_of_utterance> <row_1_col_1>c") == "a b c"
    assert len(vlm.clean_question("x" * 1000)) == vlm.MAX_QUESTION_CHARS


def test_memory_rule_on_constructed_numbers():
    gb = 2**30
    assert vlm_fits(1 * gb, 1 * gb, 2.7 * gb) and not vlm_fits(2 * gb, 1 * gb, 2.7 * gb)
    v = smolvlm.memory_verdict(int(2 * gb), int(1 * gb), int(2.7 * gb))
    assert "Not offered" in v.sentence() and smolvlm.FETCH_COMMAND in v.sentence()
    s = smolvlm.PUBLISHED
    need32 = smolvlm.answer_bytes(s, 17, 1200, 48, torch.float32, 256_000_000, False)
    need16 = smolvlm.answer_bytes(s, 17, 1200, 48, torch.bfloat16, 256_000_000, False)
    loaded = smolvlm.answer_bytes(s, 17, 1200, 48, torch.float32, 256_000_000, True)
    assert need32 - loaded == 256_000_000 * 4 and need32 > need16 > loaded


def vlm_fits(need, in_use, limit) -> bool:
    return smolvlm.memory_verdict(int(need), int(in_use), int(limit)).fits


def test_memory_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv("VITVIZ_MEMORY_LIMIT_MB", "2765")
    assert smolvlm.memory_limit_bytes() == 2765 * 2**20
    assert smolvlm.memory_in_use_bytes() > 0


def test_local_files_absent_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    import huggingface_hub.constants as c
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path))
    assert smolvlm.local_files() is None


def test_load_a_fetched_folder_and_answer(tmp_path, wide):
    folder = vlm_tiny.save(tmp_path / "m")
    loaded = smolvlm.load(folder)
    assert loaded.settings.tokens_per_crop == loaded.settings.image_seq_len == 4
    trace = vlm.answer(loaded, wide, "What is here?")
    assert trace.trained and trace.steps and vlm.answer_sentence(trace).startswith(f"{len(trace.steps)} tokens")


def test_the_articles_vlm_claims_link_to_the_page():
    from vitviz.claims import CLAIMS, article_text
    from vitviz.stages import article
    from vitviz.walkthrough import BY_KEY, neighbours

    linked = [c for c in CLAIMS if c.also == "vlm"]
    assert any("Multimodal LLMs or Vision Transformers" in c.quote for c in linked)
    assert any("hybrid between a wolf" in c.quote for c in linked)
    assert all(c.also is None or c.also in BY_KEY for c in CLAIMS)
    text = " ".join(article_text().split())
    assert all(part.strip() in text for c in linked for part in c.quote.replace("[sic] ", "").split(" … "))
    t = article.TokenArithmetic(224, 224, 16, (14, 14), 196, 1, 384, 1000)
    assert "Into a language model" in article.vlm_sentence(t) and "576 image tokens" in article.vlm_sentence(t)
    # after Attention and the Faithfulness page whose caveat its attention figure carries
    assert [s.key for s in neighbours("vlm")] == ["faithfulness", "positions"]


def test_the_long_side_setting_reaches_the_model_inputs(tiny, wide):
    model, proc, s, _ = tiny
    small = vlm.inputs_for(proc, wide, "Hi", longest_edge=64)
    assert small["pixel_values"].shape[1] == 1  # one view: the image fits one 64-px crop
    assert int((small["input_ids"][0] == model.config.image_token_id).sum()) == s.image_seq_len
    from dataclasses import replace
    assert vlm.cut(wide, replace(s, longest_edge=64), proc.image_processor).n_views == 1


def test_closed_set_words_follow_the_head_and_the_weights():
    """Section 6: 'a classifier' only with a class head; a random head's ranking is never read as learned."""
    from vitviz.model import provenance

    assert vlm.closed_set_heading("M", True) == "**M, a classifier**"
    assert "without a classifier" in vlm.closed_set_heading("M", False)
    assert ", a classifier" not in vlm.closed_set_heading("M", False)
    trained = vlm.closed_set_caption(1000, provenance.published("timm"))
    assert trained == "It must pick one of its 1,000 classes, whatever the image shows."
    random = vlm.closed_set_caption(1000, provenance.random_init())
    assert random.startswith("It must pick one of its 1,000 classes") and "trained on nothing" in random
    assert "noise" in random and "says nothing about the image" in random
    assert "noise" not in vlm.closed_set_caption(10, provenance.bundled())
    mine = vlm.closed_set_caption(10, provenance.local_file("file", "/tmp/W.pt"))
    assert "/tmp/W.pt" in mine and "cannot say whether this ranking was learned" in mine
