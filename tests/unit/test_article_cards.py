"""The home page's cards on the article's claims, on the bundled model and a random-weight ViT-Ti/16: each
number is checked against an independent computation, and each sentence against the number it reports."""

import dataclasses
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vitviz.claims import article_text, quote_occurs
from vitviz.inputs.decode import load_image
from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model.analysis import analyze
from vitviz.stages import article
from vitviz.views import article as views
from vitviz.wording import difference

CITED = {"Improved Baselines with Visual Instruction Tuning", "A ConvNet for the 2020s"}  # paper titles, cited as such


@pytest.fixture(scope="module", params=["shapes", "tiny"])
def case(request, shapes_bundle, tiny_bundle):
    bundle = shapes_bundle if request.param == "shapes" else tiny_bundle
    image = load_image(SAMPLES["shape_star" if request.param == "shapes" else "retina"].data())
    return bundle, analyze(bundle, image)


def quoted(text: str) -> list[str]:
    return re.findall(r"“([^”]+)”", text)


def test_quotes_in_the_cards_are_the_articles_or_cited(case):
    bundle, a = case
    t = article.token_arithmetic(bundle, a)
    texts = [article.vit_sentence(bundle.spec.title, t), article.vlm_sentence(t),
             *article.conv_sentences(article.conv_check(bundle, a)),
             article.closed_set_sentence(bundle.spec.title, article.closed_set(bundle, a), a.embed_dim, "x")]
    body = article_text()
    for q in (q for text in texts for q in quoted(text)):
        assert q in CITED or quote_occurs(q, body), q


def test_token_arithmetic_is_the_models(case):
    bundle, a = case
    model = bundle.model
    t = article.token_arithmetic(bundle, a)
    p = model.patch_embed.patch_size[0]
    h, w = a.image.shape[:2]
    assert t.patch == p and t.grid == (h // p, w // p) and t.patch_tokens == (h // p) * (w // p)
    assert t.dim == model.embed_dim and t.prefix_tokens == model.num_prefix_tokens
    assert t.classes == model.num_classes == len(bundle.labels)
    with torch.inference_mode():
        x = bundle.transform(load_image(SAMPLES["shape_star"].data())).unsqueeze(0)
        tokens = model.forward_features(x)  # [1, T, D]
    assert tokens.shape[1:] == (t.patch_tokens + t.prefix_tokens, t.dim)  # the tokens a VLM's projector would read
    said = article.vit_sentence(bundle.spec.title, t)
    assert f"{h} / {p} = {h // p} rows × {w} / {p} = {w // p} columns" in said
    assert f"**{t.patch_tokens} patch tokens** of **{t.dim} numbers**" in said
    assert f"**{t.classes:,} class scores**" in said
    said = article.vlm_sentence(t)
    assert f"hand over {t.patch_tokens} tokens of {t.dim} numbers" in said


def test_llava_token_arithmetic():
    v = article.LLAVA_15
    assert (v.resolution, v.patch, v.side, v.image_tokens) == (336, 14, 24, 576)
    t = article.TokenArithmetic(224, 224, 16, (14, 14), 196, 1, 192, 1000)
    said = article.vlm_sentence(t)
    assert "336 / 14 = 24, and 24² = **576 image tokens** of 1,024 numbers" in said
    assert "4,096 numbers" in said and "Liu, Li, Li & Lee (2023)" in said


def test_patch_embedding_is_a_convolution_that_cuts_into_patches(case):
    bundle, a = case
    proj = bundle.model.patch_embed.proj
    check = article.conv_check(bundle, a)
    p = a.patch_size
    assert check.kernel == check.stride == (p, p) and check.windows == a.num_patches
    assert check.in_channels == len(a.input_channels) and check.out_channels == a.embed_dim

    # independently: torch's conv2d and torch's unfold on the same input, and the model's own patch vectors
    x = torch.from_numpy(np.array(a.embed_input))[None]  # [1, C, H, W]
    with torch.inference_mode():
        conv = F.conv2d(x, proj.weight, proj.bias, stride=p)[0].flatten(1).T  # [N, D]
        cols = F.unfold(x, p, stride=p)[0].T  # [N, C·P·P]
        matmul = cols @ proj.weight.reshape(proj.out_channels, -1).T + proj.bias
    assert np.allclose(article.cut_into_patches(np.array(a.embed_input), p), cols.numpy())
    independent = float((conv - matmul).abs().max())
    assert check.max_abs_diff <= 1e-4 and independent <= 1e-4
    assert np.abs(conv.numpy() - a.patch_embeddings).max() <= 1e-4  # it is what the model computed

    # a CNN's 3×3 stride-1 windows on the same input: counted by running one
    cnn = F.conv2d(x, torch.zeros(1, x.shape[1], 3, 3))
    assert check.cnn_windows == cnn.shape[-2] * cnn.shape[-1] == (check.height - 2) * (check.width - 2)
    assert check.reads_per_pixel == 1 and check.cnn_reads_per_pixel == 9

    patch, cnn_said = article.conv_sentences(check)
    assert f"Conv2d({check.in_channels}, {check.out_channels}, kernel_size={p}×{p}, stride={p}×{p})" in patch
    # the scope of the check is every patch (the Vectors page checks one patch)
    assert f"the same numbers over all {a.num_patches} patches: {difference(check.max_abs_diff)}" in patch
    assert difference(check.max_abs_diff).startswith(("equal up to rounding", "identical"))
    assert "read exactly once" in patch and f"makes {a.num_patches} vectors of {a.embed_dim} numbers" in patch
    assert f"**{check.cnn_windows:,} windows**" in cnn_said and f"instead of {a.num_patches}" in cnn_said
    assert "A classic CNN never turns the image into a sequence of patch tokens" in cnn_said
    assert "ConvNeXt's first layer is a 4×4 convolution with stride 4" in cnn_said and "Liu et al. 2022" in cnn_said


def test_conv_sentences_follow_the_measurement():
    """If the numbers disagreed or the windows overlapped, the text would say so."""
    ok = article.ConvCheck(3, 192, (16, 16), (16, 16), 224, 224, 196, 3.8e-6, 1, 3, 49284, 9)
    assert "the same numbers over all 196 patches: equal up to rounding (3.8e-06)" in article.conv_sentences(ok)[0]
    off = dataclasses.replace(ok, max_abs_diff=0.5)
    said = article.conv_sentences(off)[0]
    assert "same numbers" not in said and "differ by up to 0.500 (the largest over all 196 patches)" in said
    overlapping = dataclasses.replace(ok, stride=(8, 8), reads_per_pixel=4)
    said = article.conv_sentences(overlapping)[0]
    assert "never overlap" not in said and "up to 4 times" in said


def test_window_counting():
    assert article.windows(224, 224, 16, 16) == 196 and article.windows(112, 112, 14, 14) == 64
    assert article.windows(224, 224, 3, 1) == 222 * 222
    assert article.max_reads_per_pixel(224, 224, 16, 16) == 1 and article.max_reads_per_pixel(20, 20, 3, 1) == 9


def test_a_classifier_answers_with_its_classes(case):
    bundle, a = case
    s = article.closed_set(bundle, a)
    p = torch.from_numpy(np.array(a.logits)).double().softmax(-1)
    assert s.classes == len(bundle.labels) == p.numel()
    assert s.top_label == a.top_labels[0] and s.top_prob == pytest.approx(a.top_probs[0], abs=1e-6)
    assert s.k == 5 and s.top_k_mass == pytest.approx(sum(a.top_probs), abs=1e-5)
    assert s.entropy_bits == pytest.approx(float(-(p * p.log2()).sum()), abs=1e-6)
    assert s.max_bits == pytest.approx(math.log2(p.numel())) and 0 <= s.entropy_bits <= s.max_bits + 1e-9

    said = article.closed_set_sentence(bundle.spec.title, s, a.embed_dim)
    assert f"**{s.classes:,} classes**" in said and f"**{s.top_label.split(',')[0]}** with {s.top_prob:.1%}" in said
    assert f"top 5 hold {s.top_k_mass:.1%}" in said and f"other {s.classes - 5:,} classes" in said
    assert f"{s.entropy_bits:.2f} bits, of at most log₂ {s.classes:,} = {s.max_bits:.2f} bits" in said
    share = f"{round(s.entropy_bits, 2) / round(s.max_bits, 2):.1%} of the most possible"
    assert share in said  # the share from the rounded bits it prints, as the not-sure line says it
    from vitviz.stages import confidence
    line = confidence.confidence(np.array(a.logits)).sentence()
    assert line is None or (share in line and f"{s.entropy_bits:.2f} of at most {s.max_bits:.2f} bits" in line)

    fig = views.class_probabilities(bundle, a)
    assert len(fig.data[0].y) == s.classes and f"top 5 hold {s.top_k_mass:.1%}" in fig.layout.title.text
    assert np.all(np.diff(fig.data[0].y) <= 0)  # most likely first


def test_the_suggested_image_has_no_class(shapes_bundle, tiny_bundle):
    assert article.unknown_sample(shapes_bundle) == ("cat", "the cat photo")
    assert not any("cat" in label.lower() for label in shapes_bundle.labels)
    assert article.unknown_sample(tiny_bundle) == ("retina", "the retina photo")
    assert not any("retina" in label.lower() for label in tiny_bundle.labels)
    assert all(key in SAMPLES for key, _, _ in article.UNKNOWN_SAMPLE.values())


def test_a_model_without_a_classifier_says_so(tiny_bundle):
    a = analyze(tiny_bundle, load_image(SAMPLES["retina"].data()))
    headless = dataclasses.replace(tiny_bundle, labels=())
    bare = dataclasses.replace(a, logits=np.zeros(0, np.float32))
    assert article.closed_set(headless, bare) is None
    assert article.token_arithmetic(headless, bare).classes == 0
    said = article.closed_set_sentence("DINO", None, a.embed_dim)
    assert "has no classifier" in said and f"{a.embed_dim} numbers" in said
    assert "no classifier head" in article.vit_sentence("DINO", article.token_arithmetic(headless, bare))


def test_the_classes_card_suggests_or_names_the_unknown_image(shapes_bundle):
    a = analyze(shapes_bundle, load_image(SAMPLES["cat"].data()))
    s = article.closed_set(shapes_bundle, a)
    _, name = article.unknown_sample(shapes_bundle)
    assert f"Try {name}:" in article.closed_set_sentence("M", s, a.embed_dim, name)
    shown = article.closed_set_sentence("M", s, a.embed_dim, name, unknown_shown=True)
    assert f"This is {name}:" in shown and "Try" not in shown
    assert s.top_label in shapes_bundle.labels  # a cat, and still one of the ten shapes


def test_the_cnn_stems_the_card_names_are_timms():
    """The sentences about ConvNeXt's and ResNet's first layers (cited) agree with timm's own definitions."""
    import timm

    stem = timm.create_model("convnext_atto", pretrained=False).stem[0]
    assert isinstance(stem, torch.nn.Conv2d) and stem.kernel_size == stem.stride == (4, 4)  # a patchify stem
    conv1 = timm.create_model("resnet18", pretrained=False).conv1
    assert conv1.kernel_size == (7, 7) and conv1.stride == (2, 2)  # windows overlap
    assert article.max_reads_per_pixel(32, 32, 4, 4) == 1 and article.max_reads_per_pixel(32, 32, 7, 2) > 1
