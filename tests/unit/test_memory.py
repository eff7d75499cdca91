"""Number formats bit by bit, memory equal to accelerate's estimate to the byte, activations vs measurement."""

import pytest
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


def test_fit_shrinks_with_resolution_and_dtype():
    model = timm.create_model("vit_small_patch16_224", pretrained=False)
    s224, s448 = memory.Shape.of(model), memory.Shape.of(model, height=448)
    size = memory.model_bytes(model)
    assert memory.largest_batch(s224, size, 16, "fp32").inference_batch > \
        memory.largest_batch(s448, size, 16, "fp32").inference_batch > 0
    assert memory.largest_batch(s224, size, 16, "fp16").training_batch > \
        memory.largest_batch(s224, size, 16, "fp32").training_batch
    assert memory.largest_batch(s224, size, 16, "int8").training_batch is None


def test_values_to_inspect_and_projection_range_read_the_bundle(tiny_bundle, photo):
    from vitviz.model.analysis import analyze
    a = analyze(tiny_bundle, photo)
    w = tiny_bundle.model.patch_embed.proj.weight.detach()
    values = memory.values_to_inspect(tiny_bundle, a, 7)
    assert values["A weight: patch projection W[0, 0]"] == float(w.flatten()[0])
    assert values["A value of patch 7's vector (dimension 0)"] == float(a.patch_embeddings[7, 0])
    assert memory.projection_weight_range(tiny_bundle) == (float(w.min()), float(w.max()))
