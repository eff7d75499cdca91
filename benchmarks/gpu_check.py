"""The GPU path, checked and measured on a CUDA machine (needs no network: random weights).

- the analysis runs on CUDA (model and input placed there), equals a plain timm forward there, and its
  attention rows sum to 1;
- training activation memory: the formula vs the saved-storage count vs torch.cuda.max_memory_allocated,
  ViT-S and ViT-B, batch 1 and 8, fp32;
- time per image and achieved TFLOP/s (fp32 and bf16 autocast), batch 1 and 64; analysis vs plain forward.

    python benchmarks/gpu_check.py
"""

from __future__ import annotations

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

from vitviz.stages import memory  # noqa: E402
from vitviz.model.analysis import analyze  # noqa: E402
from vitviz.model.loading import load_model  # noqa: E402


def timed(fn, repeats=20) -> float:
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    assert torch.cuda.is_available(), "no CUDA device"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, timm {timm.__version__}")
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    for key in ("vit_s16", "vit_b16"):
        bundle = load_model(key, pretrained=False)
        assert bundle.device.type == "cuda" and next(bundle.model.parameters()).is_cuda
        a = analyze(bundle, image)
        plain = timm.create_model(bundle.spec.arch, pretrained=False).cuda().eval()
        plain.load_state_dict(bundle.model.state_dict())
        x = bundle.transform(image).unsqueeze(0).cuda()
        with torch.inference_mode():
            ref = plain(x)[0].float().cpu().numpy()
        rows = a.attentions.astype(np.float32).sum(-1)
        print(f"\n{bundle.spec.title}: analysis on {bundle.device}; max |logits - plain timm| = "
              f"{np.abs(ref - a.logits).max():.2e}; attention row sums {rows.min():.4f}..{rows.max():.4f}")
        t_an = timed(lambda: analyze(bundle, image))
        t_plain = timed(lambda: plain(bundle.transform(image).unsqueeze(0).cuda()))
        print(f"  analyze {1000 * t_an:.2f} ms vs plain forward (with transform) {1000 * t_plain:.2f} ms: "
              f"ratio {t_an / t_plain:.2f}")

        model = timm.create_model(bundle.spec.arch, pretrained=False).cuda()
        for blk in model.blocks:
            blk.attn.fused_attn = False
        shape = memory.Shape.of(model)
        for batch in (1, 8):
            formula = memory.training_activation_numbers(shape, batch) * 4
            saved = memory.measure_saved_activations(model, batch)
            xb = torch.randn(batch, 3, 224, 224, device="cuda")
            model.train()
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            out = model(xb)
            torch.cuda.synchronize()
            held = torch.cuda.memory_allocated() - base  # what stays alive for backward
            peak = torch.cuda.max_memory_allocated() - base
            del out
            print(f"  batch {batch}: formula {formula / 1e6:8.2f} MB | saved storages {saved / 1e6:8.2f} MB | "
                  f"cuda allocated after forward {held / 1e6:8.2f} MB (formula/allocated {formula / held:.3f}) | "
                  f"forward peak {peak / 1e6:8.2f} MB")
        model.eval()
        macs = memory.macs(shape)
        for batch in (1, 64):
            xb = torch.randn(batch, 3, 224, 224, device="cuda")
            with torch.inference_mode():
                t32 = timed(lambda: model(xb))
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    t16 = timed(lambda: model(xb))
            print(f"  inference batch {batch:3d}: fp32 {1000 * t32 / batch:7.3f} ms/image "
                  f"({2 * macs * batch / t32 / 1e12:6.1f} TFLOP/s) | bf16 autocast {1000 * t16 / batch:7.3f} ms/image "
                  f"({2 * macs * batch / t16 / 1e12:6.1f} TFLOP/s)")


if __name__ == "__main__":
    main()
