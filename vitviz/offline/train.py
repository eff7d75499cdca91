"""Train the bundled offline ViT on generated shapes: ``python -m vitviz.offline.train``.

The shipped weights come from two stages (fixed seed, one CPU thread, batch 64, label smoothing 0.1,
AdamW with 5% warm-up then cosine):

1. ``python -m vitviz.offline.train --out stage1.safetensors``: 16,000 steps at lr 2e-3.
2. ``python -m vitviz.offline.train --init stage1.safetensors --steps 1000 --lr 5e-4
   --object-attention-weight 0.5``: 1,000 steps that add the object-attention loss.

Training-only heads and losses, all dropped at export (the shipped model has nothing extra):
a linear head on the final patch tokens predicts how much of each patch the shape covers; linear
heads after the last block (``--patch-class-weight``) and after each earlier block
(``--early-patch-class-weight``) predict the class on patches the shape covers; in stage 2,
``--object-attention-weight`` rewards patches on the shape for attending to patches on the shape
(the CLS token's attention is never trained directly). The focus of the model's attention is
therefore partly taught, not only emergent. No flips or transposes: left/right and up/down keep
their meaning, so the position embeddings could learn rows and columns (the shipped model learned mostly
distance from the border instead: vitviz/assets/MODEL_CARD.md).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from vitviz.offline import vit as offline_model
from vitviz.offline.shapes import SHAPE_CLASSES, generate_batch, patch_coverage

MEAN, STD = 0.5, 0.5


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [B, H, W, 3] -> normalised float [B, 3, H, W] (the model's own normalisation)."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    return (x - MEAN) / STD


def make_batch(seed: int, count: int, patch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    samples = generate_batch(seed, count)
    x = to_tensor(np.stack([s.image for s in samples]))
    y = torch.tensor([s.label for s in samples])
    cover = torch.from_numpy(np.stack([patch_coverage(s.mask, patch).reshape(-1) for s in samples])).float()
    return x, y, cover  # [B,3,H,W], [B], [B,N]


@torch.no_grad()
def evaluate(model: torch.nn.Module, seed: int = 10_000_019, count: int = 512,
             patch: int = offline_model.ARCH["patch_size"]) -> float:
    model.eval()
    x, y, _ = make_batch(seed, count, patch)
    device = next(model.parameters()).device
    acc = (model(x.to(device)).argmax(-1).cpu() == y).float().mean().item()
    model.train()
    return acc


def export(model: torch.nn.Module, path: Path) -> None:
    """Save the classifier (no training-only head) as fp16 safetensors."""
    state = {k: v.detach().to(torch.float16).cpu().contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={"format": "pt", "classes": ",".join(SHAPE_CLASSES)})


class _Batches(torch.utils.data.Dataset):
    """Batch number ``step`` of the run: generated from its own seed, so workers change nothing."""

    def __init__(self, seed: int, steps: int, batch: int, patch: int) -> None:
        self.seed, self.steps, self.batch, self.patch = seed, steps, batch, patch

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, step: int):
        return make_batch(self.seed * 1_000_003 + step, self.batch, self.patch)


def _object_attention_loss(attn_probs: list[torch.Tensor], on_object: torch.Tensor) -> torch.Tensor:
    """Training only: -log of the attention that patches on the object give to patches on the object
    (mean over heads), averaged over those patches and all blocks. CLS rows are not touched."""
    m = on_object.float()  # [B, N]
    losses = []
    for probs in attn_probs:
        a = probs.mean(1)[:, 1:, 1:]  # [B, N, N]: patch -> patch, mean over heads
        to_object = (a * m[:, None, :]).sum(-1)  # [B, N]
        losses.append(-(torch.log(to_object + 1e-6) * m).sum() / m.sum().clamp(min=1))
    return torch.stack(losses).mean()


def train(steps: int, batch: int, lr: float, seed: int, out: Path, eval_every: int,
          patch_class_weight: float = 0.0, device: str = "cpu", workers: int = 0,
          early_patch_class_weight: float = 0.0, init: Path | None = None, object_attention_weight: float = 0.0,
          **arch) -> None:
    torch.manual_seed(seed)
    if device == "cpu":
        torch.set_num_threads(1)
    model = offline_model.vitviz_shapes_vit(pretrained=False, **arch)
    if init is not None:  # continue from saved weights (a second stage); the training-only heads start afresh
        model.load_state_dict({k: v.float() for k, v in load_file(str(init)).items()})
    cover_head = torch.nn.Linear(model.embed_dim, 1)  # training only: patch coverage
    patch_class_head = torch.nn.Linear(model.embed_dim, len(SHAPE_CLASSES))  # training only: class per covered patch
    # training only: the class per covered patch after each earlier block (an object patch can only
    # know the class by looking at the rest of the object, so this rewards object-to-object attention early)
    early_heads = torch.nn.ModuleList(
        torch.nn.Sequential(torch.nn.LayerNorm(model.embed_dim), torch.nn.Linear(model.embed_dim, len(SHAPE_CLASSES)))
        for _ in model.blocks[:-1])
    for m in (model, cover_head, patch_class_head, early_heads):
        m.to(device)
    params = list(model.parameters()) + list(cover_head.parameters())
    if patch_class_weight:
        params += list(patch_class_head.parameters())
    if early_patch_class_weight:
        params += list(early_heads.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05, betas=(0.9, 0.999))
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / (steps - warm))))
    attn_probs: list[torch.Tensor] = []  # per block [B, H, T, T], filled during the forward pass
    if object_attention_weight:
        for block in model.blocks:  # the unfused path computes the softmax probabilities explicitly
            block.attn.fused_attn = False
            block.attn.attn_drop.register_forward_hook(lambda _m, _i, out: attn_probs.append(out))
    patch = model.patch_embed.patch_size[0]
    log = []  # held-out accuracy along the run; a second stage continues the first stage's log
    if init is not None and init.with_suffix(".log.json").exists():
        log = [{**r, "stage": r.get("stage", 1)} for r in json.loads(init.with_suffix(".log.json").read_text())]
    stage = max((r["stage"] for r in log), default=0) + 1
    start = time.time()
    data = torch.utils.data.DataLoader(_Batches(seed, steps, batch, patch), batch_size=None, shuffle=False,
                                       num_workers=workers, prefetch_factor=4 if workers else None)
    for step, (x, y, cover) in enumerate(data):
        x, y, cover = x.to(device), y.to(device), cover.to(device)
        attn_probs.clear()
        tokens, block_patches = model.forward_intermediates(x, output_fmt="NLC")  # [B, 1+N, D], L × [B, N, D]
        logits = model.forward_head(tokens)
        cls_loss = F.cross_entropy(logits, y, label_smoothing=0.1)
        cover_loss = F.binary_cross_entropy_with_logits(cover_head(tokens[:, 1:]).squeeze(-1), cover)
        loss = cls_loss + cover_loss
        on_shape = cover > 0.3  # [B, N]: the patches whose class the per-patch heads predict
        target = y[:, None].expand_as(cover)[on_shape]  # [covered patches in the batch]
        if patch_class_weight:
            per_patch = F.cross_entropy(patch_class_head(tokens[:, 1:][on_shape]), target)
            loss = loss + patch_class_weight * per_patch
        if early_patch_class_weight:
            early = torch.stack([F.cross_entropy(head(out[on_shape]), target)
                                 for head, out in zip(early_heads, block_patches)]).mean()
            loss = loss + early_patch_class_weight * early
        if object_attention_weight:
            loss = loss + object_attention_weight * _object_attention_loss(attn_probs, cover > 0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            acc = evaluate(model, patch=patch)
            minutes = (time.time() - start) / 60
            log.append({"step": step + 1, "minutes": round(minutes, 1), "cls_loss": round(cls_loss.item(), 4),
                        "cover_loss": round(cover_loss.item(), 4), "held_out_acc": acc, "stage": stage})
            print(json.dumps(log[-1]), flush=True)
            export(model, out)
            out.with_suffix(".log.json").write_text(json.dumps(log, indent=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=16000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--patch-class-weight", type=float, default=0.5,
                   help="weight of the training-only per-patch class loss on patches the shape covers")
    p.add_argument("--early-patch-class-weight", type=float, default=0.5,
                   help="weight of the same per-patch class loss after each earlier block (training-only heads)")
    p.add_argument("--object-attention-weight", type=float, default=0.0,
                   help="weight of the training-only loss rewarding object patches for attending to the object")
    p.add_argument("--init", type=Path, default=None, help="start from these weights (a second training stage)")
    p.add_argument("--out", type=Path, default=offline_model.WEIGHTS_FILE)
    p.add_argument("--device", default="cpu", help="cpu (the reference: one thread) or cuda")
    p.add_argument("--workers", type=int, default=0, help="data-generating processes (0: in the training process)")
    p.add_argument("--patch", type=int, default=offline_model.ARCH["patch_size"],
                   help="patch size (the shipped model's by default; other sizes are for experiments)")
    a = p.parse_args()
    train(a.steps, a.batch, a.lr, a.seed, a.out, a.eval_every, a.patch_class_weight, a.device, a.workers,
          a.early_patch_class_weight, a.init, a.object_attention_weight, patch_size=a.patch)


if __name__ == "__main__":
    main()
