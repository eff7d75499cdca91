"""Number formats bit by bit (and what torch's casts do), memory equal to accelerate's estimate to the byte,
the Adam training state summed, activations vs measurement."""

import math

import numpy as np
import pytest

from tests.families import FAMILIES
import timm
import torch
from accelerate.commands.estimate import estimate_training_usage
from accelerate.utils import calculate_maximum_sizes

from vitviz.stages import memory, numbers

FMT = {f.name: f for f in numbers.FLOAT_FORMATS}


def test_known_bit_layouts():
    e = numbers.encode_float(0.1, FMT["fp16"])
    assert e.stored == 0.0999755859375 and e.bits == "0 01011 1001100110"
    b = numbers.encode_float(0.1, FMT["bf16"])
    assert b.stored == 0.10009765625 and b.bits == "0 01111011 1001101"
    f = numbers.encode_float(0.1, FMT["fp32"])
    assert f.bits == "0 01111011 10011001100110011001101"
    assert numbers.encode_float(-2.0, FMT["fp32"]).bits == "1 10000000 00000000000000000000000"
    assert numbers.encode_float(1.0, FMT["fp8 e4m3"]).bits == "0 0111 000"
    assert numbers.encode_float(1.0, FMT["fp8 e5m2"]).bits == "0 01111 00"


def test_overflow_and_saturation():
    sat = numbers.encode_float(1000.0, FMT["fp8 e4m3"])
    assert sat.stored == 448.0 and "saturated" in sat.note
    assert "inf" in numbers.encode_float(1e5, FMT["fp16"]).note
    assert "inf" in numbers.encode_float(1e6, FMT["fp8 e5m2"]).note
    assert "underflow" in numbers.encode_float(1e-9, FMT["fp16"]).note


def test_integer_quantisation():
    q = numbers.quantize(0.3, -1.0, 1.0, 8)
    assert -128 <= q.integer <= 127
    assert abs(q.error) <= q.scale / 2 + 1e-9
    q4 = numbers.quantize(0.3, -1.0, 1.0, 4)
    assert -8 <= q4.integer <= 7 and abs(q4.error) <= q4.scale / 2 + 1e-6
    assert abs(q4.error) > abs(q.error)
    clipped = numbers.quantize(5.0, -1.0, 1.0, 8)
    assert clipped.stored == pytest.approx(1.0, abs=clipped.scale)


def test_utf8():
    rows = numbers.utf8_bits("Wé")
    assert rows[0] == ("W", "57", "01010111")
    assert rows[1][1] == "C3 A9"  # two bytes in UTF-8


@pytest.mark.parametrize("name", ["vit_tiny_patch16_224", "vit_small_patch16_224", "vit_base_patch16_224",
                                  "vit_base_patch32_224"])
def test_memory_equals_accelerate(name):
    model = timm.create_model(name, pretrained=False)
    total, (layer, _names) = calculate_maximum_sizes(model)
    rows = {r.dtype: r for r in memory.weight_memory(model)}
    assert memory.model_bytes(model) == total
    assert memory.largest_layer(model)[1] == layer
    for dtype, div in (("fp32", 1), ("fp16", 2), ("int8", 4), ("int4", 8)):
        assert rows[dtype].total == total / div and rows[dtype].largest_layer == layer / div
    for dtype, acc_name in (("fp32", "float32"), ("fp16", "float16"), ("bf16", "bfloat16")):
        assert rows[dtype].training_adam == max(estimate_training_usage(total, acc_name).values())
    assert rows["int8"].training_adam is None and rows["int4"].training_adam is None


def test_published_gmacs():
    s = memory.Shape.of(timm.create_model("vit_small_patch16_224"))
    assert memory.macs(s, attention_matmuls=False) / 1e9 == pytest.approx(4.241, abs=5e-4)
    assert memory.macs(s) / 1e9 == pytest.approx(4.599, abs=5e-4)
    b = memory.Shape.of(timm.create_model("vit_base_patch16_224"))
    assert memory.macs(b, attention_matmuls=False) / 1e9 == pytest.approx(16.849, abs=5e-4)
    assert memory.macs(b) / 1e9 == pytest.approx(17.564, abs=5e-4)


@pytest.mark.parametrize("name", ["vit_small_patch16_224", "vit_base_patch16_224", "vitviz_shapes_vit"])
@pytest.mark.parametrize("batch", [1, 8])
def test_training_activation_formula_matches_measurement(name, batch):
    import vitviz.offline.vit  # noqa: F401  (registers vitviz_shapes_vit: 4 input channels, MLP ratio 3)
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False)
    for blk in model.blocks:
        blk.attn.fused_attn = False
    measured = memory.measure_saved_activations(model, batch)
    formula = memory.training_activation_numbers(memory.Shape.of(model), batch) * 4
    assert formula == measured


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("batch", [1, 3])
def test_training_activations_count_each_family_s_own_parts(family, batch):
    """Layer scale keeps its inputs, a pre-norm and q/k norms theirs, average or attention pooling changes the head's,
    and a model without a head keeps nothing for one: the formula, part by part, equals the measurement."""
    name, kwargs = FAMILIES[family]
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, **kwargs)
    for blk in model.blocks:
        blk.attn.fused_attn = False
    shape = memory.Shape.of(model)
    parts = memory.training_activation_parts(shape, batch)
    assert ("layer scale" in parts) == (family in ("deit3_layer_scale", "dinov2", "dinov2_registers"))
    assert ("pre-norm" in parts) == (family == "clip_pre_norm") and ("q/k norm" in parts) == (family == "qk_norm")
    assert ("head" in parts) == (family not in ("dinov2", "dinov2_registers", "siglip_map_pool"))
    assert ("attention pool" in parts) == (family == "siglip_map_pool")
    assert memory.measure_saved_activations(model, batch) == 4 * sum(parts.values())
    said = memory.parts_sentence(shape)
    assert (said == "") == (family in ("vit_cls", "deit_distilled", "flexivit", "dynamic_size"))
    assert ("layer scale keeps both its inputs" in said) == ("layer scale" in parts)
    assert ("there is no head" in said) == ("head" not in parts)


def test_fit_shrinks_with_resolution_and_dtype():
    model = timm.create_model("vit_small_patch16_224", pretrained=False)
    s224, s448 = memory.Shape.of(model), memory.Shape.of(model, height=448)
    assert memory.largest_batch(s224, model, 16, "fp32").inference_batch > \
        memory.largest_batch(s448, model, 16, "fp32").inference_batch > 0
    assert memory.largest_batch(s224, model, 16, "fp16").training_batch > \
        memory.largest_batch(s224, model, 16, "fp32").training_batch
    assert memory.largest_batch(s224, model, 16, "int8").training_batch is None


@pytest.mark.parametrize("name", ["vit_tiny_patch16_224", "vit_small_patch16_224", "vitviz_shapes_vit"])
def test_adam_training_state_is_16_bytes_per_parameter_in_fp32_and_mixed_precision(name):
    import vitviz.offline.vit  # noqa: F401
    model = timm.create_model(name, pretrained=False)
    p = memory.parameter_count(model)
    total, _ = calculate_maximum_sizes(model)
    fp32 = memory.training_memory(model, "fp32")
    assert fp32.total == 16 * p and fp32.bytes_per_param == 16
    assert {k: v / p for k, v in fp32.components.items()} == {
        "weights": 4, "gradients": 4, "fp32 master copy": 0, "Adam m": 4, "Adam v": 4}
    assert fp32.accelerate_peak == max(estimate_training_usage(total, "float32").values()) == fp32.total
    for dtype, acc_name in (("fp16", "float16"), ("bf16", "bfloat16")):
        mixed = memory.training_memory(model, dtype)
        assert mixed.total == 16 * p and mixed.bytes_per_param == 16  # Micikevicius et al. 2018; ZeRO §3
        assert {k: v / p for k, v in mixed.components.items()} == {
            "weights": 2, "gradients": 2, "fp32 master copy": 4, "Adam m": 4, "Adam v": 4}
        # accelerate prints its largest single stage (the optimizer), half of what sits in memory
        assert mixed.accelerate_peak == max(estimate_training_usage(total, acc_name).values()) == mixed.total / 2
    for dtype in ("int8", "int4"):
        with pytest.raises(ValueError, match="not trained directly here"):
            memory.training_memory(model, dtype)


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16", "int8"])
def test_will_it_fit_counts_weights_gradients_optimizer_and_activations(dtype):
    model = timm.create_model("vit_small_patch16_224", pretrained=False)
    s = memory.Shape.of(model)
    fit = memory.largest_batch(s, model, 16, dtype)
    free = 15 * 2**30  # 16 GiB less the 1 GiB CUDA reserve
    act = memory.ACTIVATION_BYTES[dtype]
    assert fit.free == free
    assert fit.weights == memory.model_bytes(model) / memory.DTYPE_DIVISORS[dtype]
    per_inf = memory.inference_activation_numbers(s, 1) * act
    assert fit.weights + fit.inference_batch * per_inf <= free < fit.weights + (fit.inference_batch + 1) * per_inf
    if dtype.startswith("int"):
        assert fit.training is None and fit.training_batch is None
        return
    state = fit.training
    assert state.total == state.weights + state.gradients + state.master + state.adam_m + state.adam_v
    assert state.total == 16 * memory.parameter_count(model)  # not accelerate's per-stage peak
    per_image = memory.training_activation_numbers(s, 2) / 2 * act
    assert fit.training_per_image == per_image
    assert fit.training_bytes == state.total + fit.training_batch * per_image <= free
    assert state.total + (fit.training_batch + 1) * per_image > free


def test_what_torch_casts_do_at_the_top_of_each_range():
    e5m2, fp16, e4m3 = torch.float8_e5m2, torch.float16, torch.float8_e4m3fn
    assert float(torch.tensor(61439.).to(e5m2)) == 57344 and torch.isinf(torch.tensor(61440.).to(e5m2))
    assert float(torch.tensor(65519.).to(fp16)) == 65504 and torch.isinf(torch.tensor(65520.).to(fp16))
    assert float(torch.tensor(1e6).to(e4m3)) == 448 and float(torch.tensor(float("inf")).to(e4m3)) == 448
    assert numbers.overflow_threshold(FMT["fp8 e5m2"]) == 61440 and numbers.overflow_threshold(FMT["fp16"]) == 65520
    for name in ("fp32", "fp16", "bf16", "fp8 e5m2"):  # below the threshold: rounded to max; from it on: inf
        fmt = FMT[name]
        limit = numbers.overflow_threshold(fmt)
        below = float(np.nextafter(limit, 0)) if name == "fp32" else float(np.nextafter(np.float32(limit), np.float32(0)))
        below = numbers.encode_float(below, fmt)
        assert below.stored == fmt.finfo.max and below.note.startswith("rounded to") and "not overflow" in below.note
        at = numbers.encode_float(limit, fmt)
        assert math.isinf(at.stored) and at.note.startswith("overflow → inf")
    # torch casts a Python float (fp64) to fp16 through fp32: 65,519.999 is 65,520 in fp32, hence inf
    assert torch.isinf(torch.tensor(65519.999, dtype=torch.float64).to(fp16))
    assert numbers.as_cast_sees_it(65519.999, FMT["fp16"]) == 65520
    assert numbers.encode_float(65519.999, FMT["fp16"]).note.startswith("overflow → inf")
    assert numbers.encode_float(65519.99, FMT["fp16"]).stored == 65504
    rounded = numbers.encode_float(65519.0, FMT["fp16"])
    assert rounded.stored == 65504 and "saturat" not in rounded.note and "65,520" in rounded.note
    assert "61,440" in numbers.encode_float(61439.0, FMT["fp8 e5m2"]).note
    assert "saturated at ±448" in numbers.encode_float(1e6, FMT["fp8 e4m3"]).note
    assert [(e.format, e.value, e.stored) for e in numbers.range_edges()] == [
        ("fp16", 65519, 65504), ("fp16", 65520, math.inf), ("fp8 e5m2", 61439, 57344), ("fp8 e5m2", 61440, math.inf),
        ("fp8 e4m3", 450, 448), ("fp8 e4m3", 1e6, 448)]


def test_reading_the_bits_back_by_the_formula_gives_torchs_value():
    rng = np.random.default_rng(0)
    values = list(rng.normal(0, 1, 200) * 10.0 ** rng.integers(-12, 6, 200)) + [
        0.0, -0.0, 1.0, 0.1, numbers.SUBNORMAL_EXAMPLE, 1e-40, 65504.0, 1e6, -1e40, 448.0, 0.01]
    kinds = set()
    for fmt in numbers.FLOAT_FORMATS:
        for v in values:
            e = numbers.encode_float(float(v), fmt)
            d = numbers.decode(e, fmt)
            kinds.add(d.kind)
            assert d.value == e.stored or (math.isnan(d.value) and math.isnan(e.stored)), (fmt.name, v)
            assert (d.kind == "subnormal") == ("subnormal" in e.note) or e.note.startswith("rounded")
    assert {"normal", "subnormal", "zero", "inf"} <= kinds
    sub = numbers.encode_float(numbers.SUBNORMAL_EXAMPLE, FMT["fp16"])
    assert sub.exponent == "00000" and numbers.decode(sub, FMT["fp16"]).kind == "subnormal"
    assert numbers.decode(sub, FMT["fp16"]).formula.startswith("+2^-14 × 0.")
    assert numbers.decode(numbers.encode_float(1e-40, FMT["fp32"]), FMT["fp32"]).kind == "subnormal"


def test_byte_level_tokens_are_the_utf8_bytes():
    assert numbers.byte_level_tokens("What is Botpress?") == list(b"What is Botpress?")
    assert len(numbers.byte_level_tokens("héllo")) == 6  # é is two bytes


def test_every_zoo_checkpoint_says_what_it_was_trained_on():
    import json

    from vitviz.model.zoo import ZOO
    from vitviz.offline.vit import ASSETS

    for spec in ZOO:
        data = memory.TRAINING_DATA[spec.timm_name.split(".", 1)[1]]
        assert data.images > 0 and data.source
        assert data.literature == (not spec.bundled)
    log = json.loads((ASSETS / "shapes_vit.log.json").read_text())
    steps = tuple(max(r["step"] for r in log if r["stage"] == stage) for stage in (1, 2))
    assert steps == memory.SHAPES_TRAINING_STEPS
    # both stages ran with the default seed (the model card's commands): stage 2's batches repeat stage 1's first
    # 1,000, so the distinct images are stage 1's
    import inspect

    from vitviz.offline import train
    card = (ASSETS / "MODEL_CARD.md").read_text()
    assert "--init stage1.safetensors" in card and "--seed" not in card
    assert "seed * 1_000_003 + step" in inspect.getsource(train._Batches)
    assert memory.TRAINING_DATA["shapes"].images == 16_000 * 64
    shapes = memory.TRAINING_DATA["shapes"]
    assert shapes.trained_on == ("generated shape images; it saw 1,088,000 images: 1,024,000 different ones in "
                                 "stage 1 (16,000 batches of 64), and stage 2 re-used stage 1's first 1,000 batches")
    assert shapes.unit == "different images" and memory.TRAINING_DATA["fb_in1k"].unit == "images"
    assert memory.TRAINING_DATA["fb_in1k"].trained_on == "the ImageNet-1k training set: 1,281,167 images"
    assert "1,088,000 images, 1,024,000 different" in " ".join(card.split())  # the card says it too


def test_stored_float_format_reads_the_files_header(tmp_path):
    """From the file, not a guess: one format for all float tensors, None for a mix or no file."""
    from safetensors.torch import save_file

    from vitviz.offline.vit import WEIGHTS_FILE
    cases = {"fp16": {"w": torch.zeros(2, dtype=torch.float16), "n": torch.zeros(1, dtype=torch.int64)},
             "fp32": {"w": torch.zeros(2)}, "bf16": {"w": torch.zeros(2, dtype=torch.bfloat16)},
             None: {"w": torch.zeros(2), "v": torch.zeros(2, dtype=torch.float16)}}
    for expected, tensors in cases.items():
        path = tmp_path / f"{expected}.safetensors"
        save_file(tensors, str(path), metadata={"format": "pt"})
        assert memory.stored_float_format(path) == expected
    assert memory.stored_float_format(None) is None
    assert memory.stored_float_format(WEIGHTS_FILE) == "fp16"  # the bundled model ships in fp16


def test_a_vit_holds_only_its_weights():
    model = timm.create_model("vit_small_patch16_224", pretrained=False)
    n, held = memory.state_dict_bytes(model)
    assert held == memory.model_bytes(model) == 4 * memory.parameter_count(model)
    assert n == len(list(model.parameters()))
    assert memory.timing_input(model) == (1, 3, 224, 224)
    assert memory.time_forward(model, repeats=1, device="cpu") > 0  # runs on random input of that size


def test_values_to_inspect_and_projection_range_read_the_bundle(tiny_bundle, photo):
    from vitviz.model.analysis import analyze
    a = analyze(tiny_bundle, photo)
    w = tiny_bundle.model.patch_embed.proj.weight.detach()
    values = memory.values_to_inspect(tiny_bundle, a, 7)
    assert values["A weight: patch projection W[0, 0]"] == float(w.flatten()[0])
    assert values["A value of patch 7's vector (dimension 0)"] == float(a.patch_embeddings[7, 0])
    assert memory.projection_weight_range(tiny_bundle) == (float(w.min()), float(w.max()))
    largest = max(float(p.detach().abs().max()) for p in tiny_bundle.model.parameters())
    assert values[memory.WEIGHT_MAX] == memory.largest_weight(tiny_bundle.model) == largest
    assert memory.values_to_inspect(tiny_bundle, a, 7, largest)[memory.WEIGHT_MAX] == largest


def test_gpu_sizes_are_the_boxes_gb_in_gib():
    assert memory.GPUS["NVIDIA T4, 16 GB"] == pytest.approx(14.901, abs=1e-3)  # 16 × 10^9 bytes = 14.9 GiB
    assert all(memory.GPUS[k] < gb for k, gb in memory.GPU_GB.items())


def test_weights_file_is_the_size_on_disk_of_the_file_the_bundle_read(tmp_path, tiny_bundle, shapes_bundle):
    """Not parameters × 4: the file holds the tensors in its own format plus a header. A file written here in fp16
    is half the fp32 tensors plus its header; random weights have no file, and the page says parameters × 4."""
    import os

    from safetensors.torch import save_file

    from vitviz.model.loading import load_model
    from vitviz.offline.vit import WEIGHTS_FILE

    assert memory.weights_file_bytes(shapes_bundle) == os.path.getsize(WEIGHTS_FILE)
    header = memory.safetensors_header_bytes(WEIGHTS_FILE)
    assert os.path.getsize(WEIGHTS_FILE) - header == 2 * shapes_bundle.spec.params  # shipped in fp16
    assert memory.file_format_note(os.path.getsize(WEIGHTS_FILE) - header, shapes_bundle.spec.params, True) \
        == ": fp16, as the bundled model ships"

    assert memory.weights_file_bytes(tiny_bundle) is None  # random weights: no file was read
    assert memory.nominal_file_bytes(tiny_bundle) == 4 * tiny_bundle.spec.params

    path = tmp_path / "vit_ti16.safetensors"
    save_file({k: v.half().contiguous() for k, v in tiny_bundle.model.state_dict().items()}, str(path))
    local = load_model("vit_ti16", device="cpu", weights=path)
    assert local.weights_path == path and memory.weights_file_bytes(local) == os.path.getsize(path)
    tensors = os.path.getsize(path) - memory.safetensors_header_bytes(path)
    assert tensors == 2 * sum(t.numel() for t in tiny_bundle.model.state_dict().values())
    assert memory.weights_file_bytes(local) != memory.nominal_file_bytes(local)
    assert memory.file_format_note(tensors, local.spec.params, False) == ": 16-bit floats"
    assert memory.file_format_note(4 * local.spec.params, local.spec.params, False) == ": fp32"


def test_integer_bits_say_twos_complement_only_of_negative_numbers():
    """A positive integer's bits are its plain binary; two's complement is named where it changes the bits."""
    assert numbers.integer_bits(22, 8) == "00010110" and numbers.integer_bits(-5, 8) == "11111011"
    assert numbers.integer_bits(-8, 4) == "1000" and numbers.integer_bits(7, 4) == "0111"
    assert int(numbers.integer_bits(-5, 8), 2) == 256 - 5
    with pytest.raises(ValueError):
        numbers.integer_bits(128, 8)
    positive = numbers.integer_bits_sentence(22, 8)
    assert "two's complement" not in positive and "22 = 2^4 + 2^2 + 2^1" in positive
    assert sum(2 ** int(t.split("^")[1]) for t in positive.split("= ")[1].split(";")[0].split(" + ")) == 22
    negative = numbers.integer_bits_sentence(-5, 8)
    assert "two's complement" in negative and "`11111011`" in negative and "2^8 − 5 = 251" in negative
    assert "two's complement" not in numbers.integer_bits_sentence(0, 4)
