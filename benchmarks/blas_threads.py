"""numpy's BLAS threads on a busy server: the CPU and time of the pages' linear algebra (the token PCA's SVD,
a cosine-similarity matrix product, a rollout step) with 1 thread against OpenBLAS's default, interleaved, while
one other process keeps a core busy (as another learner's page does).

    python benchmarks/blas_threads.py [--repeats 40] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits


def _busy(stop: multiprocessing.Event) -> None:
    while not stop.is_set():
        pass


def _work(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    tokens = rng.standard_normal((196, 384))  # ViT-S/16 patch vectors [N, D]
    tokens -= tokens.mean(0)
    rows = rng.standard_normal((197, 384)).astype(np.float32)
    attn = rng.random((197, 197))
    return tokens, rows, attn


def _measure(threads: int, repeats: int, data: tuple[np.ndarray, ...]) -> tuple[float, float]:
    """(CPU ms, wall ms) per round of the three operations with ``threads`` BLAS threads."""
    tokens, rows, attn = data
    with threadpool_limits(limits=threads, user_api="blas"):
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(repeats):
            np.linalg.svd(tokens, full_matrices=False)
            rows @ rows.T
            attn @ attn
        return ((time.process_time() - c0) / repeats * 1e3, (time.perf_counter() - t0) / repeats * 1e3)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=40)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    default = max(2, os.cpu_count() or 1)
    data = _work(np.random.default_rng(0))
    stop = multiprocessing.Event()
    other = multiprocessing.Process(target=_busy, args=(stop,), daemon=True)
    other.start()
    try:
        results = {1: [], default: []}
        for _ in range(args.rounds):  # interleaved: the machine's drift hits both alike
            for n in results:
                results[n].append(_measure(n, args.repeats, data))
    finally:
        stop.set()
        other.join(5)
    med = {n: tuple(float(np.median([r[i] for r in rs])) for i in range(2)) for n, rs in results.items()}
    print(f"one other process busy; SVD [196, 384] + [197, 384] @ its transpose + [197, 197] @ itself, "
          f"medians of {args.rounds} rounds of {args.repeats}")
    for n, (cpu, wall) in med.items():
        print(f"BLAS threads {n}: CPU {cpu:6.1f} ms | wall {wall:6.1f} ms")
    print(f"ratio {default} threads / 1: CPU {med[default][0] / med[1][0]:.2f}x | wall {med[default][1] / med[1][1]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
