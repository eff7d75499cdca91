"""The claims table: every quote is the article's own words, every claim has a verdict and a demonstration."""

import re

import pytest

from vitviz.claims import (ARTICLE, CLAIMS, HALF, HOME, HOME_CARDS, RIGHT, VERDICTS, WRONG, article_text,
                           quote_fragments, quote_occurs)
from vitviz.walkthrough import BY_KEY


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
    assert {c.verdict for c in CLAIMS} <= set(VERDICTS) and {WRONG, HALF, RIGHT} <= set(VERDICTS)
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


def test_sic_marks_a_word_the_article_spells_so(article):
    for c in CLAIMS:
        for m in re.finditer(r"(\S+) \[sic\]", c.quote):
            assert re.search(rf"\b{re.escape(m.group(1))}\b", article), m.group(1)


def test_the_handout_carries_each_quote_with_its_verdict(shapes_bundle):
    import html

    from vitviz.handout import handout_html
    from vitviz.inputs.decode import load_image
    from vitviz.inputs.samples import BY_KEY as SAMPLES
    from vitviz.model.analysis import analyze

    page = handout_html(shapes_bundle, analyze(shapes_bundle, load_image(SAMPLES["shape_star"].data())))
    for c in CLAIMS:
        row = f"<td>{html.escape('“' + c.quote + '”')}</td><td>{html.escape(c.verdict_label)}</td>"
        assert row in page, c.quote
