"""The Odd tokens page's linear algebra (ridge read-outs of one block's patch tokens, the PCA colours of a blank
image's features) in torch, as ``vitviz.stages.odd_tokens`` runs it, against the same computations in numpy with
its default BLAS threads, interleaved in one run (a busy machine slows both alike). ViT-S/16's shapes: 196 patch
tokens of 384 numbers, 16 × 16 × 3 pixels per patch.

    python benchmarks/odd_tokens_linalg.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from vitviz.model.loading import set_threads
from vitviz.stages import odd_tokens as odd


def numpy_ridge(x: np.ndarray, y: np.ndarray, alphas: tuple[float, ...]) -> np.ndarray:
    """The same fit as ``odd._ridge_fit`` in numpy (weights only)."""
    mu, sd = x.mean(0), x.std(0)
    xc = (x - mu) / np.where(sd > 1e-12, sd, 1.0)
    yc = y - y.mean(0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    uty = u.T @ yc
    scale = float(np.mean(s ** 2))
    best, err = alphas[0], np.inf
    for a in alphas:
        shrink = s ** 2 / (s ** 2 + a * scale)
        loo = (yc - u @ (shrink[:, None] * uty)) / (1 - 1 / len(x) - (u ** 2) @ shrink)[:, None]
        if float(np.mean(loo ** 2)) < err:
            best, err = a, float(np.mean(loo ** 2))
    return vt.T @ ((s / (s ** 2 + best * scale))[:, None] * uty)


def numpy_readout(tokens: np.ndarray, targets: np.ndarray) -> None:
    order = np.random.default_rng(0).permutation(len(tokens))
    for f in range(odd.FOLDS):
        kept = np.setdiff1d(order, order[f::odd.FOLDS])
        numpy_ridge(tokens[kept], targets[kept], odd.RIDGE_ALPHAS)
    numpy_ridge(tokens, targets, odd.RIDGE_ALPHAS)


def numpy_pca(features: np.ndarray) -> None:
    x = features - features.mean(0)
    np.linalg.svd(x, full_matrices=False)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    set_threads()
    rng = np.random.default_rng(0)
    tokens = rng.standard_normal((196, 384))
    positions = odd.positions_of((14, 14))
    pixels = rng.standard_normal((196, 768))
    blank = rng.standard_normal((12, 196, 384))
    work = {
        "read-outs (position + pixels), torch": lambda: (odd.read_out(tokens, positions, (), "position"),
                                                         odd.read_out(tokens, pixels, (), "pixels")),
        "read-outs (position + pixels), numpy": lambda: (numpy_readout(tokens, positions),
                                                         numpy_readout(tokens, pixels)),
        "PCA colours of 12 blocks, torch": lambda: [odd.pca_rgb(b) for b in blank],
        "PCA colours of 12 blocks, numpy": lambda: [numpy_pca(b) for b in blank],
    }
    times: dict[str, list[float]] = {k: [] for k in work}
    for _ in range(args.repeats):  # interleaved
        for name, run in work.items():
            t = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t)
    for name, ts in times.items():
        print(f"{name:40s} {statistics.median(ts) * 1e3:9.1f} ms")
    for what in ("read-outs (position + pixels)", "PCA colours of 12 blocks"):
        ratio = statistics.median(times[f"{what}, numpy"]) / statistics.median(times[f"{what}, torch"])
        print(f"{what}: numpy / torch = {ratio:.1f}")
    print(f"torch threads {torch.get_num_threads()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
