"""The claims table: every quote is the article's own words, every claim has a verdict and a demonstration."""

import re

import pytest

import dataclasses
from pathlib import Path

import numpy as np
import timm
import torch

from vitviz import claims as C
from vitviz.claims import (ARTICLE, CLAIMS, HALF, HOME, HOME_CARDS, MEASURED, RIGHT, VERDICTS, WRONG, article_text,
                           quote_fragments, quote_occurs)
from vitviz.inputs.decode import load_image
from vitviz.model import provenance
from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model.analysis import analyze
from vitviz.stages import attention, closeness
from vitviz.walkthrough import BY_KEY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def article() -> str:
    return article_text()


def test_the_article_copy_names_its_source():
    first = ARTICLE.read_text(encoding="utf-8").splitlines()[0]
    assert "trishnabhattarai" in first and "README" in first and "How-image-based-LLM-work?" in first
    assert article_text().startswith("# 🧠 How-image-based-LLM-work?")  # the source line is not part of the text


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.quote[:40])
def test_every_quote_occurs_in_the_article(claim, article):
    assert quote_occurs(claim.quote, article), claim.quote


def test_quote_matching_is_strict(article):
    assert quote_occurs("backup plain [sic] like subtokens", article)
    assert not quote_occurs("backup plan like subtokens", article)  # a corrected spelling is not a quote
    assert not quote_occurs("Pixels are like sub-tokens: the model falls back on them", article)  # a paraphrase
    assert quote_occurs("CLS token is created … which shapes or color etc.", article)
    assert not quote_occurs("which shapes or color etc. … CLS token is created", article)  # omissions keep order
    assert quote_fragments("a [sic] b … c") == ["a b", "c"]
    assert quote_fragments("probabily [sic]: because") == ["probabily: because"]  # the mark, not a space, goes


def test_the_article_is_quoted_the_way_it_reads(article):
    """The old table put words in the article's mouth; it says the opposite of these."""
    assert quote_occurs("is there any backup plain like subtokens in LLM? No", article)  # no pixel fallback
    fallback = next(c for c in CLAIMS if "backup plain" in c.quote)
    assert fallback.verdict == RIGHT
    position = next(c for c in CLAIMS if "according to the position of the patch" in c.quote)
    assert position.verdict != WRONG and position.stage == "positions"
    assert not any("falls back" in c.quote or "not in the patch vectors" in c.quote for c in CLAIMS)


def test_the_fixed_patch_size_is_not_listed_as_an_error():
    fixed = [c for c in CLAIMS if "fixed during training" in c.quote]
    assert len(fixed) == 1 and fixed[0].verdict == RIGHT


def test_each_claim_has_a_verdict_and_a_demonstration():
    assert len(CLAIMS) >= 10
    assert {c.verdict for c in CLAIMS} <= set(VERDICTS) and {WRONG, HALF, RIGHT, MEASURED} <= set(VERDICTS)
    assert [c for c in CLAIMS if c.verdict == MEASURED] == [c for c in CLAIMS if c.judge is related_judge()]
    for c in CLAIMS:
        assert c.truth and c.where
        assert c.stage in BY_KEY or c.stage == HOME
        assert c.on_home == (c.stage == HOME)
        if c.on_home:
            assert c.where in HOME_CARDS
    assert {c.where for c in CLAIMS if c.on_home} == set(HOME_CARDS)  # every card is some claim's demonstration
    # relatedness is demonstrated on the Attention page; the MLP there too, until a page for the block exists
    assert next(c for c in CLAIMS if "less difference of vector number" in c.quote).stage == "attention"
    assert next(c for c in CLAIMS if "feed- forward layer" in c.quote).stage in ("attention", "block")


def related_judge():
    return next(c for c in CLAIMS if "less difference of vector number" in c.quote).judge


def test_sic_marks_a_word_the_article_spells_so(article):
    for c in CLAIMS:
        for m in re.finditer(r"(\S+) \[sic\]", c.quote):
            assert re.search(rf"\b{re.escape(m.group(1))}\b", article), m.group(1)


def test_the_handout_carries_each_quote_with_its_verdict(shapes_bundle):
    import html

    from vitviz.handout import handout_html

    a = analyze(shapes_bundle, load_image(SAMPLES["shape_star"].data()))
    page = handout_html(shapes_bundle, a)
    for g in C.graded(shapes_bundle, a):  # the verdicts judged on the model and image, as on the home page
        row = f"<td>{html.escape('“' + g.claim.quote + '”')}</td><td>{html.escape(g.verdict_label)}</td>"
        assert row in page, g.claim.quote


MISSPELT = ("algorithmns", "avaliable", "mathmatical", "cosin", "temperorly", "strcture", "pretrin", "probabily")
"""The article's misspellings that are no English word: wherever the app quotes one, [sic] follows it."""


def test_sic_is_used_the_same_way_everywhere(article):
    flat = re.sub(r"\s+", " ", article)
    sources = [p for p in ROOT.rglob("*.py") if "tests" not in p.relative_to(ROOT).parts
               and not any(part.startswith(".") for part in p.relative_to(ROOT).parts)]
    seen = set()
    for word in MISSPELT:
        assert re.search(rf"\b{word}\b", flat), word  # the article does spell it so
        for path in sources:
            for m in re.finditer(rf"\b{word}\b(.{{0,6}})", path.read_text(encoding="utf-8")):
                seen.add(word)
                assert m.group(1).startswith(" [sic]"), f"{path.relative_to(ROOT)}: {word}{m.group(1)}"
    assert {"temperorly", "pretrin", "strcture"} <= seen  # quoted on the Bits page, the tour and the claims


# --- verdicts judged on the model on screen --------------------------------------------------------------

def claim(fragment: str) -> C.Claim:
    return next(c for c in CLAIMS if fragment in c.quote)


def test_the_cls_claim_is_half_true_where_the_head_reads_the_cls_token():
    verdict, truth = C.cls_truth(C.CLASSIC)
    assert verdict == HALF and "Wrong about when and how" in truth and "Right about the end" in truth
    assert "the same for every image" in truth and "head reads the CLS token" in truth
    verdict, truth = C.cls_truth(dataclasses.replace(C.CLASSIC, classifier=False))
    assert verdict == HALF and "image features" in truth and "classifier reads" not in truth


def test_the_cls_claim_never_gives_a_model_a_cls_token_it_lacks():
    verdict, truth = C.cls_truth(C.ModelShape(class_token=False, pool="avg", classifier=True, cls_position=False))
    assert verdict == WRONG and "no CLS token at all" in truth and "global average pooling" in truth
    assert "Right about the end" not in truth and "head reads the CLS token" not in truth
    verdict, truth = C.cls_truth(dataclasses.replace(C.CLASSIC, pool="avg"))  # a CLS token the head never reads
    assert verdict == WRONG and "does not read it" in truth and "mean of the patch tokens" in truth
    verdict, truth = C.cls_position_truth(C.ModelShape(False, "avg", True, False))
    assert verdict == RIGHT and "no CLS token at all" in truth and "position vector of its own" not in truth


def test_model_shape_is_read_from_the_model(shapes_bundle, tiny_bundle):
    for bundle in (shapes_bundle, tiny_bundle):
        shape = C.model_shape(bundle)
        assert shape.patch_size == bundle.spec.patch_size and shape.origin == bundle.provenance
        assert shape.cuda == (bundle.device.type == "cuda")
        # both are classic ViTs: a CLS token the head reads
        assert dataclasses.replace(shape, patch_size=16, origin=C.CLASSIC.origin, cuda=True) == C.CLASSIC
    gap = timm.create_model("vit_tiny_patch16_224", pretrained=False, class_token=False, global_pool="avg",
                            num_classes=len(tiny_bundle.labels))
    gap_bundle = dataclasses.replace(tiny_bundle, model=gap.eval())
    shape = C.model_shape(gap_bundle)
    assert shape == C.ModelShape(class_token=False, pool="avg", classifier=True, cls_position=False,
                                 patch_size=16, origin=tiny_bundle.provenance,
                                 cuda=tiny_bundle.device.type == "cuda")
    a = analyze(gap_bundle, load_image(SAMPLES["cat"].data()))
    assert a.num_prefix == 0
    row = next(g for g in C.graded(gap_bundle, a) if g.claim is claim("CLS token is created"))
    assert row.verdict == WRONG and "no CLS token at all" in row.truth


def test_the_gpu_claim_says_who_multiplies_on_this_machine(tiny_bundle):
    """With a CUDA GPU the CPU hands it the matrix products; without one the CPU multiplies too (the sidebar's
    "Running on CPU" and the Bits page's timing say the same)."""
    with_gpu, without = C.gpu_truth(True), C.gpu_truth(False)
    assert "hands the big matrix products to the GPU" in with_gpu and "none" not in with_gpu
    assert without.endswith("on this server there is none, so the CPU multiplies too.")
    assert "on a machine with a GPU, the CPU hands the big matrix products to it" in without
    row = next(g for g in C.graded(tiny_bundle, None) if g.claim is claim("GPU is used"))
    assert row.verdict == WRONG and row.truth == C.gpu_truth(tiny_bundle.device.type == "cuda")
    cpu = dataclasses.replace(tiny_bundle, device=torch.device("cpu"))
    assert next(g for g in C.graded(cpu, None) if g.claim is claim("GPU is used")).truth == without


def _closeness(*blocks: tuple[float, float, float]) -> closeness.Closeness:
    """Blocks as (median r², share of rows with r > 0.32, share with r < −0.32)."""
    m, pos, neg = (np.asarray(v, np.float64) for v in zip(*blocks))
    return closeness.Closeness(m, pos, neg)


def test_the_relatedness_verdict_follows_the_measurement():
    judge = claim("less difference of vector number").judge
    e = C.Evidence(C.CLASSIC)
    verdict, truth = judge(e)  # before an image: only what holds whatever the measurement
    assert verdict == MEASURED and "query·key" in truth and "r =" not in truth and "median r" not in truth
    follows, partly, none = (0.8, 1.0, 0.0), (0.2, 0.4, 0.0), (0.01, 0.05, 0.05)
    against, mixed = (0.8, 0.0, 1.0), (0.3, 0.35, 0.35)  # mixed: rows split, as on random weights
    for blocks, expected in (((follows, follows), RIGHT), ((follows, none), HALF), ((partly, against), HALF),
                             ((none, none), WRONG), ((against, against), WRONG), ((mixed, mixed), WRONG),
                             ((mixed, none), WRONG)):
        c = _closeness(*blocks)
        verdict, truth = judge(dataclasses.replace(e, closeness=c))
        assert verdict == expected, blocks
        assert "query·key" in truth and closeness.closeness_sentence(c) in truth  # the measured numbers, on the page
        assert ("is of mixed sign (" in truth) == (closeness.MIXED in c.kinds)


def test_the_another_part_claim_says_how_sharp_this_models_attention_is():
    """Constructed query rows: all flat (1.2× uniform) -> no patch picked out; sharp -> the map shows which."""
    judge = claim("which patch is the another part of patch").judge
    e = C.Evidence(C.CLASSIC)
    assert judge(e)[0] == RIGHT and "Caron et al. 2021" in judge(e)[1] and "×" not in judge(e)[1]
    flat = attention.QueryPeaks(11, 197, np.full((6, 196), 1.2))
    verdict, truth = judge(dataclasses.replace(e, peaks=flat))
    assert verdict == RIGHT and "median 1.2× uniform (1/197), at most 1.2×" in truth and "picks out no patch" in truth
    sharp = attention.QueryPeaks(11, 197, np.full((6, 196), 30.0))
    verdict, truth = judge(dataclasses.replace(e, peaks=sharp))
    assert verdict == RIGHT and "picks out no patch" not in truth and "rows pick out patches" in truth
    assert "learned query is compared with every token's learned key" in truth  # trained wording
    assert "not shown by this model" not in truth
    # the same constructed rows on random weights: the projections are random, and flat rows show nothing
    random = C.Evidence(dataclasses.replace(C.CLASSIC, origin=provenance.random_init()), peaks=flat)
    verdict, truth = judge(random)
    assert verdict == RIGHT and "learned query" not in truth and "learned key" not in truth
    assert "random query/key projections (random initialisation, seed 0)" in truth
    assert ("The claim is right about a trained ViT's attention (Caron et al. 2021), not shown by this model."
            in truth)
    verdict, truth = judge(dataclasses.replace(random, peaks=sharp))
    assert "not shown by this model" not in truth and "random query/key projections" in truth


def test_the_position_claims_say_learned_only_of_trained_weights():
    """Both position claims: "learned" for the published and bundled weights, the provenance's words otherwise."""
    kinds, added = claim("use mathmatical [sic] concept"), claim("vector number is generated according")
    for origin in (provenance.published("hub"), provenance.bundled()):
        shape = C.Evidence(dataclasses.replace(C.CLASSIC, origin=origin))
        assert kinds.judge(shape) == (HALF, kinds.truth) and "learned parameters" in kinds.truth
        assert added.judge(shape) == (HALF, added.truth) and "a learned position vector is added" in added.truth
    shape = C.Evidence(dataclasses.replace(C.CLASSIC, origin=provenance.random_init()))
    verdict, truth = kinds.judge(shape)
    assert verdict == HALF and "learned parameters" not in truth
    assert "parameters (learned in a trained model; here random initialisation, seed 0)" in truth
    verdict, truth = added.judge(shape)
    assert verdict == HALF and "a learned position vector" not in truth
    assert "a position vector (learned in a trained model; here random initialisation, seed 0) is added" in truth


@pytest.mark.parametrize("which", ["shapes", "tiny"])
def test_graded_on_the_models(which, shapes_bundle, tiny_bundle):
    bundle = shapes_bundle if which == "shapes" else tiny_bundle
    a = analyze(bundle, load_image(SAMPLES["shape_star" if which == "shapes" else "cat"].data()))
    rows = C.graded(bundle, a)
    assert [g.claim for g in rows] == list(CLAIMS)
    related = next(g for g in rows if g.claim is claim("less difference of vector number"))
    c = closeness.closeness_by_block(a)
    assert related.verdict == {closeness.FOLLOWS: RIGHT, closeness.PARTLY: HALF}.get(c.grade, WRONG)
    assert closeness.closeness_sentence(c) in related.truth
    part = next(g for g in rows if g.claim is claim("which patch is the another part of patch"))
    p = attention.query_peaks(a, a.depth - 1)
    assert p.ratios.shape == (a.heads, a.num_patches) and f"at most {p.largest:.1f}×" in part.truth
    assert p.largest == pytest.approx(a.attentions[-1][:, a.num_prefix:].astype(np.float32).max() * a.num_tokens)
    assert ("picks out no patch" in part.truth) == (p.largest < closeness.NEAR_FLAT)
    assert next(g for g in rows if g.claim is claim("CLS token is created")).verdict == HALF
    for g in rows:
        if g.claim.judge is None:  # claims whose words do not depend on the model
            assert (g.verdict, g.truth) == (g.claim.verdict, g.claim.truth)
    before = C.graded(bundle, None)
    assert next(g for g in before if g.claim is claim("less difference")).verdict == MEASURED
    assert C.graded(bundle, a, c) == rows  # the closeness the pages share judges as the one computed here


def test_graded_reads_the_closeness_it_is_given(tiny_bundle, monkeypatch):
    a = analyze(tiny_bundle, load_image(SAMPLES["cat"].data()))
    given = closeness.closeness_by_block(a)
    calls = []
    monkeypatch.setattr(C.closeness, "closeness_by_block", lambda an: calls.append(an) or given)
    C.graded(tiny_bundle, a, given)
    assert calls == []  # given: not computed again
    C.graded(tiny_bundle, a)
    assert calls == [a]


def test_the_claims_the_app_did_not_judge_before():
    expected = {"VLM identify the color and shape that patches contain": (HALF, "vectors"),
                "match the physical properties like Fur, eyes, tail": (HALF, "faithfulness"),
                "the concept of pixels are not used": (HALF, "patches"),
                "which patch is the another part of patch": (RIGHT, "attention"),
                "if u are thinking this information is also stored in CLS token": (RIGHT, "positions"),
                "1 word= 1 token= 1 vector": (HALF, "patches"),
                "because we train ai model on various data set so it take much memory": (WRONG, "bits"),
                "the ASCII code of A is 65": (RIGHT, "bits")}
    for fragment, (verdict, stage) in expected.items():
        c = claim(fragment)
        assert (c.verdict, c.stage) == (verdict, stage), fragment
    assert "batches" in claim("various data set").truth and "gradients" in claim("various data set").truth
    assert "subword" in claim("1 word= 1 token").truth and "Sennrich" in claim("1 word= 1 token").truth


def test_the_articles_ascii_is_checked_bit_by_bit(article):
    flat = re.sub(r"\s+", " ", article)
    assert C.ascii_bits("A") == format(65, "08b") == "01000001" and C.decode_bits("01000001") == "A"
    words = [C.decode_bits(g) for g in C.ARTICLE_BITS]
    assert words == ["What", "is", "Botpress", "?"]  # the article's groups spell its question
    assert all(g in flat for g in C.ARTICLE_BITS) and all(C.ascii_bits(w) == g for w, g in zip(words, C.ARTICLE_BITS))
    assert "“What”, “is”, “Botpress”, “?”" in claim("ASCII code of A").truth


def test_the_cnn_claim_tells_classic_cnns_from_convnext():
    truth = claim("Convolutional neutral").truth
    assert "Classic CNNs (VGG, ResNet) make no patches" in truth and "ConvNeXt" in truth
    assert "4×4 convolution with stride 4" in truth and "Liu et al. 2022" in truth


def test_the_patch_size_claim_cites_the_bundled_models_budget_run():
    """The counter-example on a fixed budget quotes the model card's numbers, not numbers of its own."""
    from vitviz.offline.vit import PATCH_BUDGET_NOTE

    card = re.sub(r"\s+", " ", (ROOT / "vitviz" / "assets" / "MODEL_CARD.md").read_text(encoding="utf-8"))
    assert "about 11 minutes in: 8-px patches (14×14 tokens) 47 % held-out accuracy, 14-px patches (8×8 tokens) " \
           "61.7 %" in card
    truth = claim("high patches means high accuracy").truth
    for said in (truth, PATCH_BUDGET_NOTE):
        assert "fixed compute budget" in said and "61.7 %" in said and "47 %" in said and "MODEL_CARD.md" in said


def test_unique_vectors_are_half_true_because_of_the_position_vector(article):
    c = claim("all the vector numbers are unique")
    assert c.verdict == HALF and c.stage == "vectors"
    assert quote_occurs(c.quote, article) and "sin and cosine" in c.quote  # the sentence to its end
    assert "a position vector is added" in c.truth and "identical patches give identical patch vectors" in c.truth


def test_the_training_memory_quote_is_the_readers_expected_answer(article):
    c = claim("various data set")
    assert c.quote.startswith("now your answer will be probabily [sic]:")
    assert "reader's likely answer" in c.truth
    agreed = re.search(r"“([^”]+)”", c.truth).group(1)
    assert quote_occurs(agreed, article) and "i agree with that" in agreed
def test_training_words_follow_where_the_weights_came_from(shapes_bundle, tiny_bundle):
    """Random weights are never called learned or trained at their patch size; trained ones keep those words."""
    trained, random = C.model_shape(shapes_bundle), C.model_shape(tiny_bundle)
    _, truth = C.patch_size_truth(trained)
    assert f"({shapes_bundle.spec.patch_size} px for the model on screen)" in truth and "was trained at it too" in truth
    _, truth = C.patch_size_truth(random)
    assert "the weights on screen were not (random initialisation, seed 0)" in truth and "noise" in truth
    assert "trained at it too" not in truth
    _, truth = C.cls_truth(trained)
    assert "It is a learned vector" in truth and "a summary learned in training" in truth
    _, truth = C.cls_truth(random)
    assert "learned in a trained model; here random initialisation, seed 0" in truth
    assert "summary learned" not in truth and "a learned vector" not in truth
    assert "a learned query" in C.related_mechanism(trained.origin)
    assert "a learned" not in C.related_mechanism(random.origin) and "computed (query·key)" in C.related_mechanism(
        random.origin)
    by_quote = {g.claim.quote: g for g in C.graded(tiny_bundle, None)}
    assert "noise" in next(g.truth for q, g in by_quote.items() if q.startswith("Remember the length"))
