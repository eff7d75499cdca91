"""The number-format switch: every format offered here runs the zoo's architectures and the bundled model,
fp32 is the analysis as before, bytes are measured from the stored tensors, and what cannot run says why."""

import json
import math

import numpy as np
import pytest
import torch

from vitviz.__main__ import main
from vitviz.inputs.decode import load_image
from vitviz.inputs.samples import BY_KEY as SAMPLES
from vitviz.model import precision
from vitviz.model.analysis import analyze
from vitviz.model.loading import load_model
from vitviz.model.precision import PRECISIONS, offered, stored_bytes, stored_weight, to_precision, unavailable
from vitviz.model.store import ModelStore, model_bytes
from vitviz.stages import attention
from vitviz.stages.precision import drift, js_divergence

FORMATS = [k for k, why in offered("cpu").items() if why is None]
# A row of probabilities each rounded to nearest keeps its sum within half a unit in the last place of its
# largest possible value: 2^-(significand bits) = 2^-8 for bf16 (7 stored bits + 1). fp16 (11 bits) and the
# integer formats (fp32 activations) keep the 2e-3.
ROW_SUM_TOLERANCE = {"bf16": 2.0 ** -8}


@pytest.fixture(scope="module")
def circle():
    return load_image(SAMPLES["shape_circle"].data())


@pytest.fixture(scope="module")
def cat():
    return load_image(SAMPLES["cat"].data())


def test_this_cpu_offers_every_format():
    assert FORMATS == ["fp32", "bf16", "fp16", "int8", "int4"]


@pytest.mark.parametrize("key", ["vit_ti16", "dino_s16", "vit_b32", "shapes"])
def test_every_format_gives_valid_attention_rows(key, cat, circle):
    torch.manual_seed(0)
    fp32 = load_model(key, "cpu", pretrained=key == "shapes")
    image = circle if key == "shapes" else cat
    ref = analyze(fp32, image)
    for fmt in FORMATS:
        bundle = to_precision(fp32, fmt)
        assert bundle.precision == fmt and bundle.identity.precision == fmt
        a = analyze(bundle, image)
        rows = a.attentions.astype(np.float64).sum(-1)  # [L, H, T]
        assert np.abs(rows - 1).max() <= ROW_SUM_TOLERANCE.get(fmt, 2e-3), fmt
        assert a.attentions.shape == ref.attentions.shape and np.isfinite(a.patch_embeddings).all()
        d = drift(ref, a, fmt)
        assert d.attention_js.shape == (a.depth,) and (d.attention_js >= 0).all() and (d.attention_js <= math.log(2)).all()
        if fmt == "fp32":
            assert d.max_dprob in (0.0, None) and d.attention_max.max() == 0 and d.patch_vectors_max == 0
        elif fmt != "int4":  # 4-bit weights move a random-weight model's output visibly; the rest stay close
            assert d.output_change < 0.1, (fmt, d.output_change)


def test_fp32_is_the_analysis_as_before(shapes_bundle, circle):
    assert to_precision(shapes_bundle, "fp32") is shapes_bundle
    a, b = analyze(shapes_bundle, circle), analyze(to_precision(shapes_bundle, "fp32"), circle)
    for name in ("attentions", "block_outputs", "patch_embeddings", "logits", "tokens_in"):
        assert np.array_equal(getattr(a, name), getattr(b, name))


def test_bytes_are_measured_from_the_stored_tensors(tiny_bundle):
    fp32 = stored_bytes(tiny_bundle.model)
    assert fp32.total == sum(p.numel() * 4 for p in tiny_bundle.model.parameters())  # no buffers in a timm ViT
    for fmt in ("bf16", "fp16"):  # every tensor is cast: half, to the byte, nothing stays fp32
        half = stored_bytes(to_precision(tiny_bundle, fmt).model)
        assert half.total * 2 == fp32.total and half.other_dtypes == (str(PRECISIONS[fmt].compute_dtype)[6:],)
    int8 = stored_bytes(to_precision(tiny_bundle, "int8").model)
    assert int8.linear_weights <= 0.3 * fp32.linear_weights  # 1-byte codes + a scale and zero point per row
    assert int8.other == fp32.other and int8.other_dtypes == ("float32",)  # norms, biases, conv, tokens stay fp32
    rows = sum(m.out_features for m in tiny_bundle.model.modules() if isinstance(m, torch.nn.Linear))
    assert int8.linear_weights == fp32.linear_weights // 4 + rows * (4 + 1)


def test_one_weight_as_stored(tiny_bundle):
    ref = tiny_bundle.model
    for fmt in ("int8", "int4"):
        w = stored_weight(ref, to_precision(tiny_bundle, fmt).model, fmt, "blocks.0.attn.qkv", 3, 40)
        assert w.value == pytest.approx(w.scale * (w.code - w.zero_point))
        bound = 127 if fmt == "int8" else 7
        assert -bound - 1 <= w.code <= bound
        assert abs(w.error) <= w.scale / 2 + 1e-7  # round to nearest: within half a step
    w = stored_weight(ref, to_precision(tiny_bundle, "bf16").model, "bf16", "blocks.0.attn.qkv", 3, 40)
    assert w.code is None and w.value == float(torch.tensor(w.fp32).bfloat16())


def test_what_cannot_run_says_why_in_one_line(monkeypatch):
    assert "unknown" in unavailable("fp64", "cpu")
    odd = torch.nn.Sequential(torch.nn.Linear(40, 8))
    assert "not a multiple of 32" in unavailable("int4", "cpu", odd)
    monkeypatch.setattr(precision.importlib.util, "find_spec", lambda name: None)
    assert "torchao" in offered("cpu")["int8"] and offered("cpu")["bf16"] is None
    with pytest.raises(ValueError, match="not offered"):
        precision.convert_model(torch.nn.Sequential(torch.nn.Linear(64, 8)), "int8")


def test_store_holds_a_converted_copy_under_its_own_identity(tiny_bundle):
    store = ModelStore(2**30, "cpu")
    store.put(tiny_bundle)
    int8 = store.get("vit_ti16", precision="int8")
    assert int8.identity.precision == "int8" and int8.model is not tiny_bundle.model
    assert store.get("vit_ti16", precision="int8") is int8 and store.peek("vit_ti16", "int8") is int8
    assert store.get("vit_ti16") is tiny_bundle  # fp32 untouched
    assert len(store) == 2 and store.nbytes == model_bytes(tiny_bundle) + stored_bytes(int8.model).total
    small = ModelStore(model_bytes(tiny_bundle) + 1, "cpu")  # room for one model: the copy evicts the original
    small.put(tiny_bundle)
    small.get("vit_ti16", precision="bf16")
    assert len(small) == 1 and small.nbytes <= model_bytes(tiny_bundle) + 1


def test_a_fallback_in_another_format_is_a_view_of_the_converted_bundled_model(monkeypatch, tmp_path):
    from huggingface_hub import constants

    from vitviz.model import hub
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv("VITVIZ_WEIGHTS_DIR", raising=False)
    store = ModelStore(2**30, "cpu")
    view = store.get("vit_s16", precision="int8")  # offline: no hub
    assert view.fell_back and view.requested.key == "vit_s16" and view.precision == "int8"
    assert store.get("shapes", precision="int8").model is view.model  # one converted model
    assert hub.hub_offline()


def test_gradient_rollout_needs_gradients(shapes_bundle, circle):
    int8 = to_precision(shapes_bundle, "int8")
    a = analyze(int8, circle)
    assert "no gradient" in attention.gradient_unavailable(int8)
    with pytest.raises(ValueError, match="needs gradients"):
        attention.gradient_rollout(int8, a, a.top_indices[0])
    bf16 = to_precision(shapes_bundle, "bf16")
    assert attention.gradient_unavailable(bf16) is None
    assert np.isfinite(attention.gradient_rollout(bf16, analyze(bf16, circle), 0)).all()


def test_js_divergence_bounds():
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    q = np.array([[0.0, 1.0], [0.5, 0.5]])
    assert js_divergence(p, q) == pytest.approx([math.log(2), 0.0])


def test_cli_prints_every_format_as_json(capsys, tmp_path):
    path = tmp_path / "circle.png"
    path.write_bytes(SAMPLES["shape_circle"].data())
    assert main(["precision", str(path), "--model", "shapes", "--json",
                 "--formats", "fp32", "bf16", "int8"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [f["precision"] for f in out["formats"]] == ["fp32", "bf16", "int8"]
    fields = {"top1", "top1_probability", "top1_same_as_fp32", "max_abs_dprob", "mean_attention_js", "weight_bytes",
              "weight_ratio", "seconds_per_image", "time_ratio"}
    assert all(fields <= set(f) for f in out["formats"])
    fp32, bf16, int8 = out["formats"]
    assert fp32["max_abs_dprob"] == 0 and fp32["time_ratio"] == 1 and bf16["weight_ratio"] == 0.5
    assert int8["top1"] == fp32["top1"] == "circle" and int8["weight_ratio"] < 0.5


def test_cli_bad_image_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"nope")
    assert main(["precision", str(bad), "--model", "shapes"]) == 2
    assert "not an image" in capsys.readouterr().err


def test_the_bundled_model_keeps_its_answers_on_the_shape_samples_in_bf16_and_int8(shapes_bundle):
    from vitviz.inputs.samples import SHAPES

    formats = {k: to_precision(shapes_bundle, k) for k in ("bf16", "int8")}
    for sample in SHAPES:
        image = load_image(sample.data())
        expected = analyze(shapes_bundle, image).top_labels[0]
        for fmt, bundle in formats.items():
            assert analyze(bundle, image).top_labels[0] == expected, (sample.key, fmt)


def test_an_int8_run_prints_no_deprecation_notice_and_other_pytree_messages_still_show():
    """torchao's import made torch log that registering an Enum as a pytree constant is deprecated, on every int8
    run (the CLI, the app's first quantised model). Only that line is dropped: a fresh process, so the import is
    really the first one."""
    import logging
    import subprocess
    import sys

    code = ("from vitviz.model.loading import load_model; from vitviz.model.precision import to_precision; "
            "to_precision(load_model('shapes', device='cpu'), 'int8'); print('done')")
    run = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "done" in run.stdout, run.stderr
    assert "deprecated" not in run.stderr and "Enum subclass" not in run.stderr, run.stderr

    notice = precision._TorchaoEnumNotice()
    make = lambda msg: logging.LogRecord("torch.utils._pytree", logging.WARNING, __file__, 1, msg, None, None)
    assert not notice.filter(make(
        "<enum 'KernelPreference'> is an Enum subclass and is now natively supported by torch.compile as an opaque "
        "value type. Calling register_constant() on Enum subclasses is deprecated and will be an error in a future "
        "release."))
    assert notice.filter(make("<enum 'Mine'> is an Enum subclass and is now natively supported by torch.compile as "
                              "an opaque value type. Calling register_constant() on Enum subclasses is deprecated "
                              "and will be an error in a future release."))
    assert notice.filter(make("something else went wrong"))
