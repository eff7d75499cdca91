"""Inside a block: the float32 recompute against the model, the what-ifs, the logit lens, the figures.

Every demonstration runs on the bundled model and on random-weight timm ViTs of the zoo's architectures.
"""

import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from vitviz.inputs.decode import load_image
from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model.analysis import analyze
from vitviz.model.loading import load_model
from vitviz.model.zoo import ZOO
from vitviz.stages import block as B
from vitviz.views import block as V
from vitviz.walkthrough import BY_KEY as BY_STAGE

RANDOM = [s.key for s in ZOO if not s.bundled]
ROOT = Path(__file__).resolve().parents[2]
SEED_ARTICLES = (ROOT / "docs" / "seed_article.md", ROOT.parent / "shared" / "seed" / "000_51e5ddd8ac3627b3.txt")


class Case:
    """One model, one image, its analysis and the float32 stream (built once per module)."""

    def __init__(self, bundle, sample: str) -> None:
        self.bundle = bundle
        self.a = analyze(bundle, load_image(SAMPLES[sample].data()))
        self.stream = B.residual_stream(bundle, self.a)


@pytest.fixture(scope="module")
def shapes_case(shapes_bundle) -> Case:
    return Case(shapes_bundle, "shape_star")


@pytest.fixture(scope="module", params=["shapes"] + RANDOM)
def case(request, shapes_bundle) -> Case:
    """The bundled model, then each zoo architecture with random weights (one at a time in memory)."""
    if request.param == "shapes":
        return Case(shapes_bundle, "shape_star")
    torch.manual_seed(0)
    return Case(load_model(request.param, device="cpu", pretrained=False), "cat")


def test_every_zoo_block_can_be_opened(case):
    assert B.unsupported(case.bundle.model) is None


def test_a_model_without_standard_blocks_is_refused_with_a_reason():
    class Odd(torch.nn.Module):
        blocks = torch.nn.ModuleList([torch.nn.Linear(2, 2)])

    assert "standard pre-norm Block" in B.unsupported(Odd())
    assert "no transformer blocks" in B.unsupported(torch.nn.Linear(2, 2))


def test_the_stream_is_the_models_own_blocks_in_float32(case):
    a, stream, model = case.a, case.stream, case.bundle.model
    assert stream.tokens.dtype == np.float32 and stream.tokens.shape == (a.depth + 1, a.num_tokens, a.embed_dim)
    np.testing.assert_array_equal(stream.tokens[0], a.tokens_in)
    with torch.inference_mode():  # an independent run of the model's blocks from block 1's input
        x = torch.from_numpy(a.tokens_in.copy())[None]
        for i, blk in enumerate(model.blocks):
            x = blk(x)
            assert np.abs(x[0].numpy() - stream.tokens[i + 1]).max() <= 1e-5
    # the analysis keeps float16 copies for drawing: equal up to float16 rounding (about 3 significant digits)
    captured = a.block_outputs.astype(np.float32)
    assert np.all(np.abs(stream.tokens[1:] - captured) <= 2e-3 * np.maximum(np.abs(captured), 1.0))


@pytest.mark.parametrize("where", ["first", "last"])
def test_recomputed_block_equals_the_model(case, where):
    a, bundle = case.a, case.bundle
    layer = 0 if where == "first" else a.depth - 1
    trace = B.trace(bundle, a, layer, case.stream)
    # the attention row, recomputed from q and k, equals the captured (float16) one
    assert trace.check.attention_vs_captured <= 1e-3
    for token in (0, B.token_index(a, a.num_patches // 2)):
        for head in (0, a.heads - 1):
            step = B.query_step(trace, a, head, token)
            assert step.row_vs_captured <= 1e-3
            assert abs(step.row.sum() - 1) <= 1e-5
    # the block's output equals a float32 forward of that block
    with torch.inference_mode():
        reference = bundle.model.blocks[layer](torch.from_numpy(trace.x.copy())[None])[0].numpy()
    assert np.abs(trace.out - reference).max() <= 1e-4
    assert trace.check.output_vs_block <= 1e-4
    np.testing.assert_allclose(trace.mid + trace.mlp_out, trace.out, atol=1e-6)
    np.testing.assert_allclose(trace.x + trace.attn_out, trace.mid, atol=1e-6)


def test_temperature_one_reproduces_the_row_and_others_reshape_it(case):
    a = case.a
    trace = B.trace(case.bundle, a, a.depth - 1, case.stream)
    token = B.token_index(a, 0)
    one = B.query_step(trace, a, 0, token, 1.0)
    np.testing.assert_array_equal(one.row_t, one.row)
    np.testing.assert_array_equal(one.out_t, one.out)
    assert one.out_change == 0
    np.testing.assert_allclose(one.out, trace.heads_out[0, token], atol=1e-5)  # Σ aⱼvⱼ as the block computed it
    sharp, flat = B.query_step(trace, a, 0, token, 0.25), B.query_step(trace, a, 0, token, 4.0)
    assert sharp.row_t.max() >= one.row.max() >= flat.row_t.max()
    assert B.effective_tokens(sharp.row_t) <= B.effective_tokens(one.row) <= B.effective_tokens(flat.row_t)
    assert np.argmax(sharp.row_t) == np.argmax(one.row)  # same scores, same order
    with pytest.raises(ValueError):
        B.query_step(trace, a, 0, token, 0.0)


def test_only_attention_mixes_tokens(case):
    a, bundle = case.a, case.bundle
    for layer in (0, a.depth - 1):
        trace = B.trace(bundle, a, layer, case.stream)
        for token in (0, B.token_index(a, a.num_patches // 2)):
            w = B.mixing_what_ifs(bundle, trace, token)
            assert w.other != token
            # (a) noise in another token's MLP input: this token's MLP input and output do not move
            assert w.mlp_alone <= 1e-6 and w.mlp_input_alone <= 1e-6
            # (b) noise in another token's block input: its attention output moves, and the MLP's input and output
            assert w.attention_moved > 1e-4
            assert w.mlp_input_moved > 0 and w.mlp_output_moved > 0
    trace = B.trace(bundle, a, 0, case.stream)
    with pytest.raises(ValueError):
        B.mixing_what_ifs(bundle, trace, 0, other=0)


def test_the_mlp_and_layer_norm_on_one_token(case):
    a, bundle = case.a, case.bundle
    trace = B.trace(bundle, a, 0, case.stream)
    token = B.token_index(a, 1)
    m = B.mlp_step(bundle, trace, token)
    np.testing.assert_allclose(m.out, trace.mlp_out[token], atol=1e-5)
    assert m.firing == int((m.pre > 0).sum())
    for which, after in (("norm1", trace.x_hat), ("norm2", trace.mid_hat)):
        n = B.layer_norm(bundle, trace, token, which)
        assert abs(n.normalised.mean()) <= 1e-4 and abs(n.normalised.std() - 1) <= 1e-3
        np.testing.assert_allclose(n.normalised * n.weight + n.bias, after[token], atol=1e-4)


def test_logit_lens_last_depth_is_the_prediction(case):
    a, stream = case.a, case.stream
    lens = B.logit_lens(stream, a)
    assert lens.similarity.shape == (a.depth + 1,) and abs(lens.similarity[-1] - 1) <= 1e-5
    if not case.bundle.labels:  # no classifier: the page says so and shows the similarity instead
        assert not lens.has_classifier and np.isnan(lens.last_vs_logits)
        return
    assert lens.last_vs_logits <= 1e-5
    assert lens.final_class == a.top_indices[0]
    assert len(lens.top) == a.depth + 1 and all(len(row) == min(5, len(case.bundle.labels)) for row in lens.top)
    np.testing.assert_allclose([p for _, p in lens.top[-1]], a.top_probs, atol=1e-5)
    assert 0 <= B.settled_depth(lens) <= a.depth
    assert lens.top[B.settled_depth(lens)][0][0] == lens.final_class


def test_settled_depth_by_hand():
    def lens(tops):
        return B.Lens(True, 7, np.zeros((0, 0)), np.zeros(0), tuple(((c, 0.5),) for c in tops), np.zeros(0), 0.0)

    assert B.settled_depth(lens([7, 7, 7])) == 0
    assert B.settled_depth(lens([1, 7, 2, 7, 7])) == 3
    assert B.settled_depth(lens([1, 1, 7])) == 2


def test_settled_phrase_says_when_only_the_last_block_reads_the_answer():
    def lens(tops):
        return B.Lens(True, 2, np.zeros((0, 0)), np.zeros(0), tuple(((c, 0.5),) for c in tops), np.zeros(0), 0.0)

    names = ["circle", "cross", "star"]
    assert B.settled_phrase(lens([2, 2, 2]), names) == "“star” is the top class from the input on"
    assert B.settled_phrase(lens([0, 2, 2, 2, 2]), names) == \
        "“star” is the top class from block 1 on; before it the reading is “circle”"
    # depth 4 is the last block (depth 0 is the input): not "from block 4 on"; cross was top only at block 3
    assert B.settled_phrase(lens([0, 1, 2, 1, 2]), names) == (
        "“star” is the top class only in the last block (block 4); just before it (block 3) the reading is "
        "“cross”; earlier it changes from block to block")
    # the bundled model's case: cross is top from the input to block 3, so "before it" covers every earlier depth
    assert B.settled_phrase(lens([1, 1, 1, 1, 2]), names) == \
        "“star” is the top class only in the last block (block 4); before it the reading is “cross”"


def test_settled_phrase_names_the_run_before_when_earlier_readings_differ():
    """The random ViT-S/16 case: the answer from block 9 on, “guenon” only at blocks 7–8, other classes before."""
    def lens(tops):
        return B.Lens(True, 9, np.zeros((0, 0)), np.zeros(0), tuple(((c, 0.5),) for c in tops), np.zeros(0), 0.0)

    names = [f"c{i}" for i in range(10)]
    assert B.settled_phrase(lens([0, 1, 2, 3, 3, 4, 5, 8, 8, 9, 9, 9, 9]), names) == (
        "“c9” is the top class from block 9 on; just before it (blocks 7–8) the reading is “c8”; earlier it "
        "changes from block to block")
    assert B.settled_phrase(lens([0, 0, 8, 8, 9, 9]), names) == (
        "“c9” is the top class from block 4 on; just before it (blocks 2–3) the reading is “c8”; earlier it is "
        "“c0”")
    assert B.settled_phrase(lens([0, 8, 9]), names) == (
        "“c9” is the top class only in the last block (block 2); just before it (block 1) the reading is “c8”; "
        "earlier it is “c0”")


def test_before_block_1_the_cls_reading_is_the_same_for_every_image(shapes_case, shapes_bundle):
    other = Case(shapes_bundle, "shape_heart")
    np.testing.assert_allclose(shapes_case.stream.head[0], other.stream.head[0], atol=1e-6)
    assert not np.allclose(shapes_case.stream.head[-1], other.stream.head[-1])


def test_update_sizes(case):
    sizes = B.update_sizes(case.stream, 0)
    assert sizes.shape == (case.a.depth,) and np.all(sizes > 0)
    x = case.stream.tokens[:, 0].astype(np.float64)
    assert sizes[0] == pytest.approx(np.linalg.norm(x[1] - x[0]) / np.linalg.norm(x[0]))


def _stream(sizes: list[float], d: int = 8, seed: int = 0) -> B.Stream:
    """A residual stream built so that block l adds an update of length sizes[l] × the token's length (token 0)."""
    rng = np.random.default_rng(seed)
    x = [rng.standard_normal(d)]
    for r in sizes:
        u = rng.standard_normal(d)
        x.append(x[-1] + r * np.linalg.norm(x[-1]) * u / np.linalg.norm(u))
    tokens = np.stack(x)[:, None].astype(np.float32)  # [L+1, 1, D]
    return B.Stream(tokens, np.zeros((len(x), 2), np.float32), True)


def test_update_rule_on_constructed_streams():
    small = B.update_sizes(_stream([0.05, 0.1, 0.02, 0.2]), 0)
    np.testing.assert_allclose(small, [0.05, 0.1, 0.02, 0.2], rtol=1e-5)  # as built
    assert B.update_runs(small) == [(1, 4, "small")]
    said = B.update_sentence(small, "the CLS token")
    assert said.startswith("Blocks 1–4 add small updates to the CLS token (2%–20%)") and "rewrite" not in said[:60]

    large = B.update_sizes(_stream([2.0, 3.0, 1.5]), 0)
    assert B.update_runs(large) == [(1, 3, "rewrites")]
    assert B.update_sentence(large, "patch 3").startswith("Blocks 1–3 rewrite patch 3 (updates 1.5×–3.0× its length)")

    first = B.update_sizes(_stream([10.1, 0.4, 0.3, 0.1, 0.05]), 0)
    assert B.update_runs(first) == [(1, 1, "rewrites"), (2, 3, "changes"), (4, 5, "small")]
    said = B.update_sentence(first, "the CLS token")
    assert said.startswith("Block 1 rewrites the CLS token (its update is 10.1× the token's length); blocks 2–3 "
                           "change it by less than its length (30%–40%); from block 4 on, updates are small (5%–10% "
                           "of its length).")

    then_small = B.update_sizes(_stream([10.1, 0.1, 0.05, 0.2]), 0)
    assert B.update_runs(then_small) == [(1, 1, "rewrites"), (2, 4, "small")]
    assert "; from block 2 on, updates are small (5%–20% of its length)" in B.update_sentence(then_small, "it")


def test_update_words_never_round_onto_a_bar():
    assert [B.update_kind(v) for v in (0.2499, 0.25, 0.9996, 1.0, 10.1)] == ["small", "changes", "changes",
                                                                           "rewrites", "rewrites"]
    assert B.size_words(0.2499) == "24.99%" and B.size_words(0.996) == "99.6%" and B.size_words(0.38) == "38%"
    assert B.size_words(10.105) == "10.1×"


def test_the_add_steps_say_what_they_add(case):
    a, stream = case.a, case.stream
    trace = B.trace(case.bundle, a, 0, stream)
    for token in (0, B.token_index(a, a.num_patches // 2)):
        attn = np.linalg.norm(trace.attn_out[token]) / np.linalg.norm(trace.x[token])
        mlp = np.linalg.norm(trace.mlp_out[token]) / np.linalg.norm(trace.mid[token])
        assert B.added_size(trace, token, "add1") == pytest.approx(attn, rel=1e-5)
        assert B.added_size(trace, token, "add2") == pytest.approx(mlp, rel=1e-5)
        said = B.add_sentence(trace, token, "add1", "it")
        assert B.size_words(attn) in said and ("rewrites" in said) == (attn >= B.REWRITE)
    sizes = B.update_sizes(stream, 0)
    said = B.update_sentence(sizes, "the CLS token")
    assert all(re.search(rf"blocks? {i}\b", said.lower()) for i, _, _ in B.update_runs(sizes))  # every run named
    if case.bundle.spec.bundled:  # measured on the star: block 1 rewrites the CLS token (10.1×), blocks 2–3 do not
        assert said.startswith("Block 1 rewrites the CLS token (its update is 10.1×")
        assert "small updates" not in said


def test_figures(case):
    a, bundle, stream = case.a, case.bundle, case.stream
    trace = B.trace(bundle, a, a.depth - 1, stream)
    diagram = V.diagram(bundle, a, "mlp")
    steps = next(t for t in diagram.data if t.name == "steps")
    assert tuple(steps.customdata) == B.STEP_KEYS
    assert f"{a.num_tokens} × {a.embed_dim}" in str(diagram.data) and f"{a.heads} heads of" in str(diagram.data)
    patch_token = B.token_index(a, 3)
    figures = [V.norm(bundle, a, trace, patch_token, "norm1"), V.norm(bundle, a, trace, 0, "norm2"),
               V.query_keys(bundle, a, trace, 0, patch_token), V.scores(bundle, a, trace, 0, 0),
               V.row_on_image(bundle, a, trace, 0, patch_token, 2.0), V.head_output(bundle, a, trace, 0, 0, 0.5),
               V.residual_add(bundle, a, trace, 0, "add1"), V.residual_add(bundle, a, trace, 0, "add2"),
               V.mlp(bundle, a, trace, patch_token), V.matrix(bundle, a, a.depth - 1, 0, patch_token),
               V.lens(bundle, a, stream), V.updates(bundle, a, stream, patch_token)]
    assert all(isinstance(f, go.Figure) and f.data for f in figures)
    assert any(t.name == "patches" for t in figures[4].data)  # the row on the image is clickable
    assert "what-if: temperature 2" in figures[4].layout.title.text


def test_quotes_are_verbatim():
    article = next((p for p in SEED_ARTICLES if p.exists()), None)
    if article is None:
        pytest.skip("no copy of the seed article here")
    text = re.sub(r"\s+", " ", article.read_text(encoding="utf-8"))
    stage = BY_STAGE["block"]  # what the stage's texts put in quotation marks is the article's
    quoted = re.findall(r"“([^”]+)”", stage.answer + stage.depth)
    assert len(quoted) >= 2
    for quote in (B.ARTICLE_FEED_FORWARD, B.ARTICLE_RELATED, *quoted):
        assert quote in text, quote


def test_handout_has_the_block_section(shapes_case, shapes_bundle):
    from vitviz.handout import SECTIONS, figure_count

    calls = shapes_bundle.forward_calls
    parts = SECTIONS["block"](shapes_bundle, shapes_case.a)
    assert shapes_bundle.forward_calls == calls  # the float32 recompute of the blocks, no forward pass
    assert figure_count("".join(parts)) >= 3


def test_the_stream_of_a_float32_model_is_what_its_analysis_kept(case):
    """The blocks' float32 outputs come from the analysis's own forward pass: running the blocks again gives
    the same tokens, and the logit lens's last depth is the model's output."""
    assert case.a.block_outputs.dtype == np.float32
    again = B._recomputed(case.bundle, case.a).numpy()  # [L+1, T, D]
    np.testing.assert_allclose(case.stream.tokens, again, atol=1e-5, rtol=1e-5)
    if case.stream.has_classifier:
        np.testing.assert_allclose(case.stream.head[-1], case.a.logits, atol=1e-4, rtol=1e-4)


def test_a_lower_precision_model_keeps_float16_outputs_and_recomputes_its_stream(shapes_bundle):
    from vitviz.model import precision

    half = precision.to_precision(shapes_bundle, "bf16")
    a = analyze(half, load_image(SAMPLES["shape_star"].data()))
    assert a.block_outputs.dtype == np.float16
    stream = B.residual_stream(half, a)
    assert stream.tokens.dtype == np.float32 and stream.tokens.shape == (a.depth + 1, a.num_tokens, a.embed_dim)
    np.testing.assert_allclose(stream.tokens[1:], a.block_outputs.astype(np.float32), atol=0.1, rtol=0.05)
