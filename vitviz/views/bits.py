"""Figures of the Bits & memory stage."""

from __future__ import annotations

import plotly.graph_objects as go

from vitviz.figures.bits import bit_fields, memory_bars, scaling_figure, stacked_bars
from vitviz.model.analysis import Analysis
from vitviz.model.loading import Bundle
from vitviz.stages import memory, numbers
from vitviz.stages.patches import patch_size_options

MB = 1e6
BATCHES = (1, 2, 4, 8, 16, 32, 64)


def one_number(_bundle: Bundle, _a: Analysis, value: float) -> go.Figure:
    return bit_fields([numbers.encode_float(value, f) for f in numbers.FLOAT_FORMATS],
                      f"{value!r} stored in five float formats")


def activations(bundle: Bundle, _a: Analysis, batch: int, resolution: int) -> go.Figure:
    s = memory.Shape.of(bundle.model, height=resolution)
    values = [memory.training_activation_numbers(s, batch) * 4, memory.attention_matrix_numbers(s, batch) * 4,
              memory.inference_activation_numbers(s, batch) * 4]
    return memory_bars(["training: saved activations", "… of which attention matrices", "inference: peak working set"],
                       [v / MB for v in values], f"Batch {batch}, {resolution}×{resolution} px, {s.tokens} tokens")


TRAINING_FORMATS = ("fp32", "bf16")  # bf16 and fp16 mixed precision hold the same bytes


def training_stack(bundle: Bundle, _a: Analysis, batch: int, resolution: int) -> go.Figure:
    """What sits in memory while training with Adam, part by part, in fp32 and in mixed precision, with
    accelerate estimate-memory's figure (its largest single stage) beside each bar."""
    s = memory.Shape.of(bundle.model, height=resolution)
    states = [memory.training_memory(bundle.model, f) for f in TRAINING_FORMATS]
    acts = [memory.training_activation_numbers(s, batch) * memory.ACTIVATION_BYTES[f] for f in TRAINING_FORMATS]
    stacks = {name: [t.components[name] / MB for t in states] for name in states[0].components}
    stacks[f"activations (batch {batch}, {resolution} px)"] = [v / MB for v in acts]
    return stacked_bars(["fp32 training", "fp16/bf16 mixed-precision training"], stacks,
                        {"accelerate estimate-memory: its largest single stage": [t.accelerate_peak / MB for t in states]},
                        f"Training with Adam: everything in memory at once, batch {batch}")


def activations_by_batch_title(resolution: int) -> str:
    return f"At {resolution} px: activations grow linearly with the batch"


def activations_by_batch(bundle: Bundle, _a: Analysis, resolution: int, panel: int | None = None) -> go.Figure:
    """Training and inference activations against the batch; ``panel`` 0 or 1: one of them alone."""
    s = memory.Shape.of(bundle.model, height=resolution)
    return scaling_figure(list(BATCHES), {  # linear axes: growth in proportion to the batch is a straight line
        f"training activations at {resolution} px (MB)":
            [memory.training_activation_numbers(s, b) * 4 / MB for b in BATCHES],
        f"inference peak at {resolution} px (MB)": [memory.inference_activation_numbers(s, b) * 4 / MB for b in BATCHES]},
        "batch size", activations_by_batch_title(resolution), log_y=False, panel=panel)


PATCH_SIZE_COST_TITLE = "“more patches” has a price: smaller patches → more tokens → quadratically more attention"


def patch_size_cost(bundle: Bundle, _a: Analysis, panel: int | None = None) -> go.Figure:
    """Tokens, attention memory and MACs against the patch size; ``panel`` 0, 1 or 2: one of them alone."""
    shape = memory.Shape.of(bundle.model)
    sizes = patch_size_options(shape.patch, shape.height, max_tokens=5000)
    shapes = [memory.Shape.of(bundle.model, patch=p) for p in sizes]
    return scaling_figure(sizes, {
        "tokens": [s.tokens for s in shapes],
        "attention memory, batch 1 (MB)": [memory.attention_matrix_numbers(s, 1) * 4 / MB for s in shapes],
        "GMACs / image": [memory.macs(s) / 1e9 for s in shapes]},
        "patch size (px)", PATCH_SIZE_COST_TITLE, panel=panel)
