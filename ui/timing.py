"""The time per image of the model on screen, or of its fp32 original: one measurement per model, number format
and device, shared by every section that shows it (Bits & memory's sections 2 and 6) and by every visitor.

Two timings of the same model and format would differ by the noise of the moment they were taken (another
visitor's analysis, a busy core), and a page showing both would contradict itself.
"""

from __future__ import annotations

from vitviz.stages import memory

from .context import Context

DEVICE_NAMES = {"cpu": "CPU", "cuda": "GPU"}


def _bundle(ctx: Context, fp32: bool):
    return ctx.fp32 if fp32 else ctx.bundle


def time_per_image(ctx: Context, device: str, fp32: bool = False) -> float:
    """Median seconds per image on ``device`` ("cpu" or "cuda") of the model on screen (``fp32``: the same model as
    loaded), on a random input of its size (``memory.time_forward``): timed once, then read from the cache."""
    bundle = _bundle(ctx, fp32)
    return ctx.experiment("time_forward", device, of=bundle, per_image=False, long=True,
                          run=lambda: memory.time_forward(bundle.model, device=device),
                          label=f"Timing the model ({bundle.precision}) on the {DEVICE_NAMES.get(device, device)}…")


def timed(ctx: Context, device: str, fp32: bool = False) -> bool:
    """Whether ``time_per_image(ctx, device, fp32)`` is measured already (by this or another visitor)."""
    return ctx.has_experiment("time_forward", device, of=_bundle(ctx, fp32), per_image=False)
