"""Every page's core on every timm ViT family "Your own model" takes (random weights, small): the model's own
prefix tokens, pooling, patch size, layer scale, pre-norm and input size are read, never the classic ViT assumed;
the numbers the pages check against the model hold on each."""

import numpy as np
import pytest
import torch
from PIL import Image

from tests.families import FAMILIES, family_bundle
from vitviz.handout import figure_count, handout_html
from vitviz.model.analysis import analyze
from vitviz.stages import attention, block, faithfulness, memory, patches, positions, vectors
from vitviz.views import attention as attention_views, bits as bits_views, block as block_views
from vitviz.views import faithfulness as faithfulness_views, patches as patches_views
from vitviz.views import positions as positions_views, vectors as vectors_views

# family -> (prefix token names, what the head reads, has a classifier)
EXPECTED = {
    "vit_cls": (("CLS",), "the CLS token", True),
    "deit_distilled": (("CLS", "distillation"), "the CLS and distillation tokens (the mean of their two heads)", True),
    "deit3_layer_scale": (("CLS",), "the CLS token", True),
    "dinov2": (("CLS",), "the CLS token", False),
    "dinov2_registers": (("CLS", "register 1", "register 2", "register 3", "register 4"), "the CLS token", False),
    "clip_pre_norm": (("CLS",), "the CLS token", False),  # a 512-number projection: an embedding, not classes
    "siglip_map_pool": ((), "an attention pool of the tokens (one learned query attending to them all: SigLIP's MAP "
                            "head)", False),
    "flexivit": (("CLS",), "the CLS token", True),
    "vit_avg_pool": ((), "the average of the patch tokens", True),
    "dynamic_size": (("CLS",), "the CLS token", True),
    "qk_norm": (("CLS",), "the CLS token", True),
}


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request):
    bundle = family_bundle(request.param)
    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8))
    return request.param, bundle, image, analyze(bundle, image)


def test_the_analysis_reads_the_models_own_shape(family):
    name, bundle, image, a = family
    names, reads, classifier = EXPECTED[name]
    model = bundle.model
    size = bundle.spec.resolution
    assert a.prefix_names == names and a.num_prefix == model.num_prefix_tokens
    assert a.image.shape[:2] == (size, size) and bundle.data_config["input_size"] == (3, size, size)
    assert a.patch_size == bundle.spec.patch_size and a.grid == (size // a.patch_size,) * 2
    assert a.patch_embeddings.shape == (a.num_patches, a.embed_dim)  # [N, D], also from a dynamic-size model
    assert a.tokens_in.shape == a.pos_embed.shape == (a.num_tokens, a.embed_dim)
    assert a.attentions.shape == (a.depth, a.heads, a.num_tokens, a.num_tokens)
    assert block.head_reads(model) == reads and (len(bundle.labels) > 0) == classifier
    assert (a.cls_token.size > 0) == a.has_cls
    x = bundle.transform(image).unsqueeze(0)
    with torch.inference_mode():
        plain = model(x)[0]  # timm's own forward, no hooks recording
    if classifier:
        np.testing.assert_allclose(a.logits, plain.numpy(), atol=1e-5)
        assert a.top_labels and a.top_labels[0] == bundle.labels[a.top_indices[0]]
    else:
        assert a.logits.size == 0 and not a.top_labels


def test_every_page_core_runs_and_checks_against_the_model(family):
    name, bundle, image, a = family
    token = block.token_index(a, a.num_patches // 2)
    assert vectors.show_the_math(bundle, a, a.num_patches - 1).max_abs_diff < 1e-4
    stream = block.residual_stream(bundle, a)
    for layer in range(a.depth):
        t = block.trace(bundle, a, layer, stream)  # the block opened step by step equals the model's own
        assert t.check.output_vs_block < 1e-4, (name, layer)
        assert t.check.attention_vs_captured < 2e-3
    lens = block.logit_lens(stream, a)
    assert lens.has_classifier == bool(bundle.labels)
    if lens.has_classifier:
        assert lens.last_vs_logits < 1e-4
    last = block.trace(bundle, a, a.depth - 1, stream)
    for view, args in [
        (patches_views.grid, ()), (patches_views.sequence, ()), (patches_views.one_patch, (3,)),
        (patches_views.flattened, (3,)),
        (vectors_views.pick, (2,)), (vectors_views.all_vectors, ()), (vectors_views.filters, (bundle, a, 8)[2:]),
        (vectors_views.twins, ()), (vectors_views.token_pca, (a.depth,)), (vectors_views.similarity_to_patch, (1, 2)),
        (block_views.diagram, ("attn",)), (block_views.norm, (last, token)), (block_views.query_keys, (last, 0, token)),
        (block_views.scores, (last, 0, token)), (block_views.row_on_image, (last, 0, token)),
        (block_views.head_output, (last, 0, token)), (block_views.residual_add, (last, token)),
        (block_views.mlp, (last, token)), (block_views.matrix, (0, 0, token)), (block_views.lens, (stream,)),
        (block_views.updates, (stream, token)),
        (attention_views.cls_map, (0, None, 0.6, 1)), (attention_views.query_map, (0, 0, 0.6, 1)),
        (attention_views.heads, (0,)), (attention_views.layers, ()), (attention_views.rollout, ()),
        (attention_views.distances, ()), (attention_views.dino_masks, (0.6,)), (attention_views.relatedness, (0, None, 1)),
        (positions_views.learned_similarity, ()), (positions_views.one_position, (1,)),
        (positions_views.code_shares, ()), (positions_views.mirror_cosines, ()), (positions_views.by_offset, ()),
        (positions_views.sincos_similarity, ("2d",)),
        (bits_views.one_number, (0.1,)), (bits_views.activations, (2, a.image.shape[0])),
        (bits_views.training_stack, (2, a.image.shape[0])), (bits_views.activations_by_batch, (a.image.shape[0],)),
        (bits_views.patch_size_cost, ()),
    ]:
        fig = view(bundle, a, *args)
        assert fig.data, (name, view.__qualname__)
    row = attention.cls_attention(a, a.depth - 1)
    assert row.shape == a.grid and np.isfinite(row).all()
    raw = a.attentions[a.depth - 1].astype(np.float32)  # [H, T, T]: one head's map, CLS row or every query's mean
    want = raw[1, 0, a.num_prefix:] if a.has_cls else raw[1, :, a.num_prefix:].mean(axis=0)
    np.testing.assert_allclose(attention.cls_attention(a, a.depth - 1, 1).ravel(), want, rtol=1e-5, atol=1e-7)
    # the patch-size experiment at the model's own size gives the model's own answer
    native = patches.patch_size_experiment(bundle, a, [a.patch_size])[0]
    assert native.tokens == a.num_tokens
    # shuffled patches without positions: a bag of tokens, prefix tokens included in timm's order
    shuffled = positions.shuffle_experiment(bundle, a)
    assert shuffled is not None
    bigger = positions.run_at_resolution(bundle, image, a.image.shape[0] + 2 * a.patch_size)
    assert bigger.tokens == (a.grid[0] + 2) ** 2 + a.num_prefix
    report = faithfulness.evaluate(bundle, a)
    for m, area in report.areas.items():
        assert np.isfinite(area.deletion) and np.isfinite(area.insertion), (name, m)
    assert faithfulness_views.curves(bundle, a, report.curves).data
    assert faithfulness_views.occlusion_map(bundle, a, report.occlusion).data
    if bundle.labels and attention.gradient_unavailable(bundle) is None:
        assert np.isfinite(attention.gradient_rollout(bundle, a, a.top_indices[0])).all()
    assert memory.Shape.of(bundle.model).tokens == a.num_tokens


def test_the_handout_holds_every_section(family):
    name, bundle, _, a = family
    page = handout_html(bundle, a, "noise.png")
    assert figure_count(page) >= 20, name
    assert "tokens with " + a.prefix_phrase in page
