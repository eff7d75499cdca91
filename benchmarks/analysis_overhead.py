"""How much does capturing everything cost? vitviz's analysis vs a plain timm forward, and vs Hugging Face
transformers' ViT asked for the same data (output_attentions + output_hidden_states).

Runs are interleaved in one process (A, B, C, A, B, C, ...) so that a busy machine slows all alike;
the script prints medians and ratios. Weights are random: the cost depends on the architecture only.

    python benchmarks/analysis_overhead.py [--repeats 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from vitviz.model.analysis import analyze, image_hash  # noqa: E402
from vitviz.model.loading import load_model  # noqa: E402


def hf_vit(model: torch.nn.Module):
    """transformers' ViT with the same shape as the timm model (weights random)."""
    from transformers import ViTConfig, ViTForImageClassification

    blk = model.blocks[0]
    cfg = ViTConfig(hidden_size=model.embed_dim, num_hidden_layers=len(model.blocks),
                    num_attention_heads=blk.attn.num_heads, intermediate_size=blk.mlp.fc1.out_features,
                    image_size=model.patch_embed.img_size[0], patch_size=model.patch_embed.patch_size[0],
                    num_labels=model.num_classes, attn_implementation="eager")
    return ViTForImageClassification(cfg).eval()


def bench(key: str, repeats: int, image: Image.Image) -> None:
    bundle = load_model(key, device="cpu", pretrained=False)
    plain = timm.create_model(bundle.spec.arch, pretrained=False).eval()  # fused attention on, no hooks
    plain.load_state_dict(bundle.model.state_dict())
    try:
        hf = hf_vit(bundle.model)
    except ImportError:
        hf = None

    def run_plain():
        with torch.inference_mode():
            plain(bundle.transform(image).unsqueeze(0))

    digest = image_hash(image)  # the app hashes an image once, when it is chosen

    def run_analysis():
        analyze(bundle, image, digest)

    def run_hf():
        with torch.inference_mode():
            hf(pixel_values=bundle.transform(image).unsqueeze(0), output_attentions=True, output_hidden_states=True)

    runs = {"plain timm forward": run_plain, "vitviz analyze": run_analysis}
    if hf is not None:
        runs["transformers ViT (+attentions, hidden states)"] = run_hf
    times: dict[str, list[float]] = {k: [] for k in runs}
    for fn in runs.values():  # warm-up
        fn()
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{bundle.spec.title} ({bundle.spec.arch}), {repeats} interleaved runs, {torch.get_num_threads()} thread(s)")
    for name, m in med.items():
        print(f"  {name:48s} median {1000 * m:8.1f} ms")
    base = med["vitviz analyze"]
    print(f"  ratio analyze / plain timm forward:            {base / med['plain timm forward']:.3f}  (target <= 1.10)")
    if hf is not None:
        print(f"  ratio analyze / transformers with outputs:     "
              f"{base / med['transformers ViT (+attentions, hidden states)']:.3f}  (target <= 1.00)")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--models", nargs="*", default=["vit_s16", "vit_b16"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, timm {timm.__version__}")
    for key in a.models:
        bench(key, a.repeats, image)


if __name__ == "__main__":
    main()
