"""Models trained at different patch sizes: counts from the architectures, published accuracy with a source."""

import pytest

from vitviz.model.zoo import get_spec
from vitviz.stages import trained_patch_sizes as tps


@pytest.fixture(scope="module")
def costs():
    return tps.pair_costs()


def test_counts_follow_the_architectures(costs):
    by_key = {c.spec.key: c for c in costs}
    assert [c.spec.key for c in costs] == [k for pair in tps.PAIRS for k in pair]
    for c in costs:
        spec = get_spec(c.spec.key)
        assert c.tokens == spec.tokens  # (224 / P)² + 1
        assert c.seconds > 0
    assert by_key["vit_b16"].gmacs == pytest.approx(17.564, abs=1e-3)  # timm's benchmark tables (READING.md)
    assert by_key["dino_s16"].gmacs == pytest.approx(4.599, abs=1e-3)
    assert by_key["vit_b16"].attention_scores == 12 * 12 * 197 ** 2


def test_every_published_number_has_a_source_and_the_verdict_quotes_the_numbers(costs):
    for key in {k for pair in tps.PAIRS for k in pair}:
        assert tps.PUBLISHED[key].source and tps.PUBLISHED[key].metric
    said = tps.verdict(costs)
    by_key = {c.spec.key: c for c in costs}
    for small, large in tps.PAIRS:
        s, b = by_key[small], by_key[large]
        assert f"{s.tokens / b.tokens:.1f}× the tokens" in said
        assert f"{s.published.top1:.1f}% vs {b.published.top1:.1f}%" in said


def test_a_pair_from_two_recipes_says_so(costs):
    """ViT-B/16's checkpoint is augreg2, its B/32 partner's augreg: the pair's sentence names both recipes and the
    same-recipe number; DINO's pair shares one recipe and gets no such note."""
    by_key = {c.spec.key: c for c in costs}
    note = tps.recipe_note(by_key["vit_b16"], by_key["vit_b32"])
    assert "`augreg2_in21k_ft_in1k`" in note and "`augreg_in21k_ft_in1k`" in note and "mixes patch size" in note
    assert "84.5% (+3.8 points" in note
    assert tps.recipe_note(by_key["dino_s8"], by_key["dino_s16"]) == ""
    assert note in tps.verdict(costs)
    for c in costs:  # the recipe named is the zoo's checkpoint, as the source column names it
        assert tps.recipe(c.spec) in c.published.source or c.spec.key.startswith("dino")


def test_flexivit_was_trained_for_many_patch_sizes_and_says_so_only_of_its_published_weights():
    """The Patches page's resampling experiment meets a model trained for it: FlexiViT's checkpoint, and only it."""
    from vitviz.model import provenance
    from vitviz.stages import patches

    flexi, deit = get_spec("flexivit_s"), get_spec("deit_s16")
    published = provenance.published("local Hugging Face cache")
    sizes = tps.sizes_trained_at(flexi, published)
    assert sizes == (8, 10, 12, 15, 16, 20, 24, 30, 40, 48) and all(flexi.resolution % p == 0 for p in sizes)
    assert set(sizes) <= set(patches.patch_size_options(flexi.patch_size, flexi.resolution))  # all can be tried
    said = tps.several_sizes_sentence(flexi, published)
    assert "trained for many patch sizes" in said and "8, 10, 12, 15, 16, 20, 24, 30, 40, 48 px" in said
    assert [tps.trained_here(flexi, published, p) for p in (8, 14, 48)] == ["yes", "no", "yes"]
    assert tps.sizes_trained_at(flexi, provenance.random_init()) == () == tps.sizes_trained_at(deit, published)
    assert tps.several_sizes_sentence(deit, published) == ""
    assert [tps.trained_here(deit, published, p) for p in (8, 16)] == ["no", "yes"]
    assert tps.trained_here(flexi, provenance.random_init(), 16) == "no (random weights)"
    assert tps.trained_here(flexi, provenance.local_file("your file x", "x"), 16) == "unknown"
