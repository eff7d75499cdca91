"""Capturing what happens inside a timm ViT: the patch vectors, what block 1 receives, and per block
the attention probabilities and output tokens.

``prepare(model)`` is called once when a model is loaded: it turns timm's fused attention off
(with it the probabilities never exist as a tensor) and registers hooks that write into a
thread-local recorder. The hooks do nothing unless the calling thread is inside ``recording``,
so sessions sharing one model never see each other's tensors.
"""

from __future__ import annotations

import threading

import torch

_local = threading.local()
_prepare_lock = threading.Lock()


class Recorder:
    """One thread's forward pass. ``compact``: the first image's per-block attention is copied straight into a
    float16 buffer on the model's device (one transfer at the end on a GPU), and its output tokens into one of
    float32 when the blocks computed in float32 (the Inside-a-block page reads them as they are), of float16
    otherwise; without ``compact`` those tensors themselves are kept, still attached to autograd (gradients need
    them). The patch vectors and block 1's input are kept as computed in both modes (full precision)."""

    def __init__(self, depth: int, compact: bool) -> None:
        self.depth, self.compact = depth, compact
        self.attn: list[torch.Tensor] = []  # full mode: per block [B, H, T, T]
        self.blocks: list[torch.Tensor] = []  # full mode: per block [B, T, D]
        self.attn_fp16: torch.Tensor | None = None  # compact mode: [L, H, T, T]
        self.blocks_out: torch.Tensor | None = None  # compact mode: [L, T, D] float32 or float16
        self.patch_embed: torch.Tensor | None = None  # [B, N, D]: patch vectors, before positions
        self.block_input: torch.Tensor | None = None  # [B, T, D]: what block 1 receives (prefix + positions + norm_pre)
        self._filled = {"attn": 0, "blocks": 0}

    def keep(self, kind: str, out: torch.Tensor) -> None:
        if not self.compact:
            getattr(self, kind).append(out)
            return
        name = "attn_fp16" if kind == "attn" else "blocks_out"
        if getattr(self, name) is None:
            dtype = torch.float32 if kind == "blocks" and out.dtype == torch.float32 else torch.float16
            setattr(self, name, torch.empty((self.depth, *out.shape[1:]), dtype=dtype, device=out.device))
        getattr(self, name)[self._filled[kind]].copy_(out[0])
        self._filled[kind] += 1


def prepare(model: torch.nn.Module) -> None:
    """Make ``model`` capturable (once): fused attention off, recording hooks on."""
    with _prepare_lock:
        if getattr(model, "_vitviz_hooks", False):
            return

        def hook(kind: str):
            def on_forward(_module, _inputs, out):
                rec = getattr(_local, "recorder", None)
                if rec is None:
                    return
                if kind == "patch_embed":
                    rec.patch_embed = out
                else:
                    rec.keep(kind, out)
            return on_forward

        def on_first_block(_module, inputs):
            rec = getattr(_local, "recorder", None)
            if rec is not None:
                rec.block_input = inputs[0]  # [B, T, D], kept as computed (blocks do not change their input)

        model.patch_embed.register_forward_hook(hook("patch_embed"))
        model.blocks[0].register_forward_pre_hook(on_first_block)
        for blk in model.blocks:
            blk.attn.fused_attn = False
            blk.attn.attn_drop.register_forward_hook(hook("attn"))  # its input/output: softmax probabilities
            blk.register_forward_hook(hook("blocks"))
        model._vitviz_hooks = True


class recording:
    """Context manager: record this thread's forward passes through ``model``."""

    def __init__(self, model: torch.nn.Module, compact: bool = False) -> None:
        prepare(model)
        self.depth, self.compact = len(model.blocks), compact

    def __enter__(self) -> Recorder:
        self.previous = getattr(_local, "recorder", None)
        _local.recorder = Recorder(self.depth, self.compact)
        return _local.recorder

    def __exit__(self, *exc) -> None:
        _local.recorder = self.previous
