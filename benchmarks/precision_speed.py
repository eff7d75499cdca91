"""Fewer bits, measured: time per image in each number format against fp32, and top-1 agreement with fp32.

Speed: ViT-S/16 and ViT-B/16 with random weights (time depends on the architecture, not the weights), and the
bundled model; every format's model is built once, then runs are interleaved (fp32, bf16, fp16, int8, int4,
fp32, ...) so that a busy machine slows all alike; medians and ratios to fp32 are printed.
Agreement: the bundled model on N generated held-out shapes (the seed vitviz's own evaluation uses), top-1 of
each format against fp32's and against the truth; and on the gallery photos for the random-weight models.

    python benchmarks/precision_speed.py [--repeats 9] [--threads 1] [--shapes 200] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from vitviz.model.analysis import analyze, input_dtype  # noqa: E402
from vitviz.model.loading import load_model  # noqa: E402
from vitviz.model.precision import offered, stored_bytes, to_precision  # noqa: E402
from vitviz.offline.evaluate import HELD_OUT_SEED  # noqa: E402
from vitviz.offline.shapes import generate_batch  # noqa: E402


def speed(key: str, device: str, repeats: int, batch: int = 1) -> None:
    fp32 = load_model(key, device, pretrained=key == "shapes")
    formats = [k for k, why in offered(device, fp32.model).items() if why is None]
    models = {k: to_precision(fp32, k).model for k in formats}
    size = fp32.model.patch_embed.img_size
    x = torch.randn(batch, 3, *size, device=device)
    times: dict[str, list[float]] = {k: [] for k in formats}
    with torch.inference_mode():
        for m in models.values():
            m(x.to(input_dtype(m)))  # warm-up
        for _ in range(repeats):
            for k, m in models.items():
                xi = x.to(input_dtype(m))
                if device == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                m(xi)
                if device == "cuda":
                    torch.cuda.synchronize()
                times[k].append((time.perf_counter() - start) / batch)
    base = statistics.median(times["fp32"])
    ref_bytes = stored_bytes(fp32.model).total
    print(f"{fp32.spec.title} on {device}, batch {batch}:")
    for k in formats:
        t = statistics.median(times[k])
        print(f"  {k:5s} {1000 * t:8.1f} ms/image  × fp32 {t / base:5.2f}   weights "
              f"{stored_bytes(models[k]).total / 1e6:8.2f} MB ({stored_bytes(models[k]).total / ref_bytes:.3f} of fp32)")


def agreement(count: int) -> None:
    fp32 = load_model("shapes", "cpu")
    samples = generate_batch(HELD_OUT_SEED, count)
    formats = [k for k, why in offered("cpu", fp32.model).items() if why is None]
    bundles = {k: to_precision(fp32, k) for k in formats}
    top = {k: [] for k in formats}
    for s in samples:
        image = Image.fromarray(s.image)
        for k, b in bundles.items():
            top[k].append(analyze(b, image).top_indices[0])
    truth = [s.label for s in samples]
    print(f"Bundled shapes model, {count} generated held-out shapes (seed {HELD_OUT_SEED}):")
    for k in formats:
        same = sum(a == b for a, b in zip(top[k], top["fp32"]))
        right = sum(a == b for a, b in zip(top[k], truth))
        print(f"  {k:5s} top-1 agrees with fp32 on {same}/{count} ({same / count:.1%}); accuracy {right / count:.1%}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--shapes", type=int, default=200)
    p.add_argument("--device", default="cpu")
    p.add_argument("--models", nargs="*", default=["vit_s16", "vit_b16", "shapes"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {a.threads} thread(s), {a.repeats} interleaved repeats")
    for key in a.models:
        speed(key, a.device, a.repeats)
    if a.shapes:
        agreement(a.shapes)


if __name__ == "__main__":
    main()
