"""Does batching the occlusion map pay? Its time against the same number of single-image forward passes run
one by one (the model's own forward at batch 1, what a Python loop over patches would run), side by side in
one process (interleaved runs, medians, ratios). Weights are random: the cost depends on the architecture.

    python benchmarks/occlusion_speed.py [--repeats 5] [--threads 1] [--models shapes vit_s16 vit_b16]

Target: occlusion / one-by-one <= 0.9 on ViT-S/16 and the bundled model, 1 thread.
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

import torch  # noqa: E402

from vitviz.inputs.decode import load_image  # noqa: E402
from vitviz.inputs.samples import BY_KEY  # noqa: E402
from vitviz.model.analysis import analyze  # noqa: E402
from vitviz.model.loading import load_model  # noqa: E402
from vitviz.stages import faithfulness  # noqa: E402

TARGET = 0.9


def bench(key: str, repeats: int, variant: str, threads: int) -> float:
    bundle = load_model(key, device="cpu", pretrained=key == "shapes")  # the bundled model has its own weights
    torch.set_num_threads(threads)  # after loading: load_model sets the app's own thread count
    sample = "shape_star" if key == "shapes" else "cat"
    a = analyze(bundle, load_image(BY_KEY[sample].data()))
    target = faithfulness.target_for(a)
    n = faithfulness.group_count(a.grid, faithfulness.default_group(a.grid))
    x = torch.from_numpy(a.pixels.copy())[None]  # [1, 3, H, W]

    def one_by_one() -> None:
        with torch.inference_mode():
            for _ in range(n):
                bundle.model(x)

    def batched() -> None:
        faithfulness.occlusion(bundle, a, target, variant=variant)

    runs = {"one by one": one_by_one, "occlusion map": batched}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for fn in runs.values():  # warm-up
        fn()
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["occlusion map"] / med["one by one"]
    print(f"{bundle.spec.title:30s} {a.grid[0]}x{a.grid[1]} patches, {n} masked inputs ({variant}), "
          f"{torch.get_num_threads()} thread(s): one by one {1000 * med['one by one']:8.1f} ms | occlusion map "
          f"{1000 * med['occlusion map']:8.1f} ms | ratio {ratio:.3f}"
          + (f" (target <= {TARGET}, {'met' if ratio <= TARGET else 'missed'})" if variant == "tokens" else ""))
    return ratio


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--models", nargs="*", default=["shapes", "vit_s16", "vit_b16"])
    p.add_argument("--pixels", action="store_true", help="also time the mean-colour (pixel) variant")
    args = p.parse_args()
    for key in args.models:
        bench(key, args.repeats, "tokens", args.threads)
        if args.pixels:
            bench(key, args.repeats, "pixels", args.threads)


if __name__ == "__main__":
    main()
