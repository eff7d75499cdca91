"""The one way experiments run the model again: extra forward passes outside ``analyze``.

Every experiment that needs a new forward pass (another patch size, another resolution, shuffled
tokens) goes through ``run`` or ``run_from_patch_tokens``: they count the call on the bundle, run
under ``torch.inference_mode`` on the bundle's device, and return float32 numpy ``Outputs``
(probabilities only when the model has a classifier).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from vitviz.model.analysis import input_dtype
from vitviz.model.loading import Bundle

NO_CLASSIFIER = "(no classifier)"


@dataclass(frozen=True)
class Outputs:
    """What one batched forward pass produced, as numpy."""

    logits: np.ndarray  # [B, C] float32 (pooled features [B, D] for a model without a classifier)
    probs: np.ndarray | None  # [B, C] float32 softmax of the logits; None without a classifier
    labels: tuple[str, ...]  # the bundle's class names (empty without a classifier)
    seconds: float | None = None  # wall-clock time of the forward pass, when timed

    @property
    def scores(self) -> np.ndarray:
        """[B, C]: probabilities when there is a classifier, else the raw outputs."""
        return self.probs if self.probs is not None else self.logits

    def top1(self, i: int = 0) -> tuple[str, float]:
        """(label, probability) of the most probable class of input ``i``; ("(no classifier)", nan) without one."""
        if self.probs is None:
            return NO_CLASSIFIER, float("nan")
        k = int(self.probs[i].argmax())
        return self.labels[k], float(self.probs[i, k])


def as_input(x: np.ndarray | torch.Tensor, device: torch.device | str,
             dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A numpy array or tensor -> a tensor of ``dtype`` on ``device`` (no copy where none is needed)."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x if x.flags.writeable else x.copy())  # torch warns on read-only arrays
    return x.to(device=device, dtype=dtype)


def forward_from_patch_tokens(model: torch.nn.Module, tokens: torch.Tensor, with_positions: bool = True) -> torch.Tensor:
    """timm's ``forward_features`` + ``forward_head``, starting from the patch embedding's output.

    tokens: [B, N, D] as ``model.patch_embed`` returns them (patch vectors, no prefix, no positions;
    [B, H', W', D] for a model built with ``dynamic_img_size``).
    ``with_positions=False`` prepends the CLS (and any register) tokens without adding any position
    embedding, so the model sees a bag of tokens. Returns [B, C] logits (pooled features without a head).
    """
    tokens = as_patch_embed_output(model, tokens)
    if with_positions:
        # timm has no public entry point that starts from patch tokens. The model's own (private)
        # ``_pos_embed`` is the only route that adds positions exactly as its forward does for every
        # variant: class/register prefix tokens, ``no_embed_class`` (add then concat, DeiT-3) or not
        # (concat then add), dynamic image size, position dropout.
        x = model._pos_embed(tokens)  # [B, T, D]
    else:
        b, d = tokens.shape[0], tokens.shape[-1]
        prefix = [t.expand(b, -1, -1) for t in (getattr(model, "cls_token", None), getattr(model, "dist_token", None),
                                                getattr(model, "reg_token", None)) if t is not None]  # timm's order
        x = model.pos_drop(torch.cat([*prefix, tokens.reshape(b, -1, d)], dim=1))  # [B, T, D], no positions
    return _after_position_embedding(model, x)  # [B, C]


def as_patch_embed_output(model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Patch vectors [B, N, D] in the layout the model's patch embedding returns: [B, H', W', D] for a model built
    with ``dynamic_img_size`` (its ``_pos_embed`` reads the grid from that shape), [B, N, D] otherwise."""
    if not getattr(model, "dynamic_img_size", False) or tokens.ndim == 4:
        return tokens
    rows, cols = (int(g) for g in model.patch_embed.grid_size)
    return tokens.reshape(tokens.shape[0], rows, cols, tokens.shape[-1])


def _after_position_embedding(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The rest of timm's ``forward_features`` + ``forward_head`` from the tokens with positions [B, T, D]."""
    x = model.norm_pre(model.patch_drop(x))
    x = model.norm(model.blocks(x))  # [B, T, D]
    return model.forward_head(x)  # [B, C]


def _outputs(bundle: Bundle, compute: Callable[[], torch.Tensor], timed: bool) -> Outputs:
    """Count the call, run ``compute`` without autograd (timing it if asked), convert its [B, C] output."""
    bundle.count_call()
    cuda = torch.device(bundle.device).type == "cuda"
    with torch.inference_mode():
        if timed and cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = compute().float()  # [B, C]
        if timed and cuda:
            torch.cuda.synchronize()  # kernels run asynchronously: wait before reading the clock
        seconds = time.perf_counter() - start if timed else None
        probs = out.softmax(-1).cpu().numpy() if bundle.labels else None
        return Outputs(out.cpu().numpy(), probs, tuple(bundle.labels), seconds)


def run(bundle: Bundle, x: np.ndarray | torch.Tensor, model: torch.nn.Module | None = None,
        timed: bool = False) -> Outputs:
    """One counted forward pass of ``x`` [B, 3, H, W] through the bundle's model, or through ``model``
    (a resampled copy of it, e.g. another patch size or resolution)."""
    model = bundle.model if model is None else model
    pixels = as_input(x, bundle.device, input_dtype(model))  # [B, 3, H, W]
    return _outputs(bundle, lambda: model(pixels), timed)


def run_from_patch_tokens(bundle: Bundle, tokens: np.ndarray | torch.Tensor, with_positions: bool = True) -> Outputs:
    """One counted forward pass of patch tokens [B, N, D] (e.g. rearranged) through the rest of the model."""
    t = as_input(tokens, bundle.device, input_dtype(bundle.model))  # [B, N, D]
    return _outputs(bundle, lambda: forward_from_patch_tokens(bundle.model, t, with_positions), False)


def forward_kept_tokens(model: torch.nn.Module, tokens: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Remove patch tokens the ViT way: add every patch's position, then keep the prefix tokens (CLS, registers)
    and only the patches in ``keep``, and run the blocks, the final norm and the head.

    tokens: [1, N, D] patch vectors as ``model.patch_embed`` returns them (no prefix, no positions).
    keep: [B, K] long, indices of the patches kept in each of the B inputs (K may be 0: the CLS token alone).
    Returns [B, C] logits (pooled features without a head).
    """
    x = model._pos_embed(as_patch_embed_output(model, tokens))  # [1, P + N, D]: see forward_from_patch_tokens for why the private helper
    n0 = int(getattr(model, "num_prefix_tokens", 1))
    b, d = keep.shape[0], x.shape[-1]
    prefix = x[:, :n0].expand(b, -1, -1)  # [B, P, D]
    patches = x[0, n0:][keep]  # [B, K, D]
    return _after_position_embedding(model, torch.cat([prefix, patches.reshape(b, -1, d)], dim=1))  # [B, C]


def run_kept_tokens(bundle: Bundle, tokens: np.ndarray | torch.Tensor, keep: np.ndarray) -> Outputs:
    """One counted forward pass of a batch that keeps only the patches ``keep`` [B, K] of ``tokens`` [N, D]."""
    t = as_input(tokens, bundle.device, input_dtype(bundle.model)).reshape(1, *tokens.shape[-2:])  # [1, N, D]
    k = torch.as_tensor(np.asarray(keep, dtype=np.int64), device=bundle.device)  # [B, K]
    return _outputs(bundle, lambda: forward_kept_tokens(bundle.model, t, k), False)
