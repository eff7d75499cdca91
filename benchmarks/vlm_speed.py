"""Memory and time per answer of SmolVLM-256M-Instruct's architecture on this CPU, fp32 and bf16.

RANDOM WEIGHTS of the real sizes, built from the model's config (``vitviz.model.smolvlm.CONFIG``, no download): the
same arithmetic as the published model, meaningless words. The prompt has the real structure (the processor's
crops of a 640×480 image: at the default long side 12 crops + the global view = 832 image tokens, the chat template's special tokens, a
7-token question); the answer is forced to ``--tokens`` steps (random weights rarely write the end token).

Each number format runs in a process of its own, so that its peak memory (``ru_maxrss``) is its own. Printed:
weights, peak memory, the page's rule (``answer_bytes``) next to the measured peak, time to read the prompt
(the encoder and the first pass), time per new token with the page's loop (attention read at every step), and the
whole answer by the page's loop and by ``model.generate`` (no attention read), side by side in one run.

    python benchmarks/vlm_speed.py [--tokens 16] [--threads 1] [--long-side 2048]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def one(dtype_name: str, tokens: int, threads: int, long_side: int) -> dict:
    import numpy as np
    import torch
    from PIL import Image

    from vitviz.model import smolvlm
    from vitviz.stages import vlm

    torch.set_num_threads(threads)
    dtype = getattr(torch, dtype_name)
    rss0 = smolvlm.memory_in_use_bytes()
    t0 = time.perf_counter()
    model = smolvlm.random_model(dtype=dtype)
    build_s = time.perf_counter() - t0
    rss_model = smolvlm.memory_in_use_bytes()
    s = smolvlm.PUBLISHED
    rng = np.random.default_rng(0)
    image = Image.fromarray((rng.random((480, 640, 3)) * 255).astype(np.uint8))
    processor = vlm.image_processor(s)
    out = processor(images=[[image]], return_row_col_info=True, return_tensors="pt", size={"longest_edge": long_side})
    rows, cols = int(out["rows"][0][0]), int(out["cols"][0][0])
    prompt = vlm.expanded_prompt("What is in this image?", rows, cols, s.image_seq_len)
    special = {t: 49152 + i for i, t in enumerate(["<global-img>", "<fake_token_around_image>"])}
    ids = []
    for piece in vlm.strip(prompt):  # the real structure; text as 1 id per 4 characters (BPE-like lengths)
        if piece.kind == "image":
            ids += [s.image_token_id] * piece.count
        elif piece.kind == "special":
            ids.append(special.get(piece.text, 1))
        else:
            ids += [int(x) for x in rng.integers(100, 40000, max(1, len(piece.text) // 4))]
    inputs = {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids), dtype=torch.long),
              "pixel_values": out["pixel_values"].to(dtype), "pixel_attention_mask": out["pixel_attention_mask"]}
    stand_in = SimpleNamespace(tokenizer=SimpleNamespace(decode=lambda i, **k: "", unk_token_id=-1,
                                                         convert_tokens_to_ids=lambda t: -1))
    model.generation_config.eos_token_id = None
    first: list[float] = []
    t0 = time.perf_counter()
    trace = vlm.greedy(model, stand_in, inputs, max_new_tokens=tokens, trained=False,
                       on_token=lambda n: first.append(time.perf_counter() - t0) if n == 1 else None)
    loop_s = time.perf_counter() - t0
    with torch.no_grad():
        t0 = time.perf_counter()
        ref = model.generate(**inputs, do_sample=False, max_new_tokens=tokens, min_new_tokens=tokens)
        gen_s = time.perf_counter() - t0
    same = ref[0, len(ids):].tolist() == [st.token_id for st in trace.steps]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    params = sum(p.numel() for p in model.parameters())
    rule = smolvlm.answer_bytes(s, rows * cols + 1, len(ids), tokens, dtype, params, weights_loaded=False)
    return {"dtype": dtype_name, "params": params, "crops": rows * cols, "prompt_tokens": len(ids),
            "image_tokens": int(sum(1 for i in ids if i == s.image_token_id)), "tokens": len(trace.steps),
            "build_s": build_s, "weights_bytes": params * (torch.finfo(dtype).bits // 8),
            "rss_start": rss0, "rss_model": rss_model, "peak_rss": peak, "rule_bytes": rule,
            "prompt_s": first[0], "loop_per_token_s": (loop_s - first[0]) / max(1, len(trace.steps) - 1),
            "loop_total_s": loop_s, "generate_total_s": gen_s, "same_tokens": same,
            "row_sum_error": trace.row_sum_error, "long_side": long_side}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokens", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--long-side", type=int, default=2048, help="the processor's long side (the model's default: 2048)")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.tokens, args.threads, args.long_side)))
        return
    results = []
    for name in ("float32", "bfloat16"):
        done = subprocess.run([sys.executable, __file__, "--one", name, "--tokens", str(args.tokens),
                               "--threads", str(args.threads), "--long-side", str(args.long_side)], capture_output=True, text=True,
                              env=dict(os.environ, HF_HUB_OFFLINE="1"))
        if done.returncode:
            print(done.stderr[-2000:], file=sys.stderr)
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    gb = lambda b: f"{b / 2**30:.2f} GB"  # noqa: E731
    print(f"SmolVLM-256M-Instruct's architecture, RANDOM WEIGHTS (same arithmetic, meaningless words), "
          f"{args.threads} torch thread(s), {os.cpu_count()} CPUs, long side {args.long_side} px")
    for r in results:
        print(f"\n{r['dtype']}: {r['params'] / 1e6:.1f} M parameters, weights {gb(r['weights_bytes'])}; prompt "
              f"{r['prompt_tokens']} tokens ({r['image_tokens']} image tokens, {r['crops']} crops + global view)")
        print(f"  memory: {gb(r['rss_start'])} before, {gb(r['rss_model'])} with the model, peak {gb(r['peak_rss'])}"
              f" (the page's rule for a fresh load: {gb(r['rule_bytes'])} on top of what runs already)")
        print(f"  reading the prompt (encoder + first pass): {r['prompt_s']:.2f} s")
        print(f"  per new token after that: {r['loop_per_token_s']:.3f} s (the page's loop, attention read)")
        print(f"  one answer of {r['tokens']} tokens: {r['loop_total_s']:.1f} s (page loop), "
              f"{r['generate_total_s']:.1f} s (model.generate, no attention read): ratio "
              f"{r['loop_total_s'] / r['generate_total_s']:.2f}; same tokens: {r['same_tokens']}; "
              f"max |attention row sum − 1| {r['row_sum_error']:.1e}")
    if len(results) == 2:
        f, b = results
        print(f"\nbf16 / fp32, side by side: per token {b['loop_per_token_s'] / f['loop_per_token_s']:.2f}×, "
              f"prompt {b['prompt_s'] / f['prompt_s']:.2f}×, peak memory {b['peak_rss'] / f['peak_rss']:.2f}×")


if __name__ == "__main__":
    main()
