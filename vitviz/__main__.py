"""Command line: ``python -m vitviz fetch|analyze|models``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vitviz.model.zoo import DEFAULT_KEY, ZOO, get_spec


def _progress_printer(title: str):
    last = [-1]

    def report(done: int, total: int) -> None:
        pct = int(100 * done / total) if total else 0
        if pct != last[0]:
            last[0] = pct
            print(f"\r  {title}: {done / 1e6:7.1f} / {total / 1e6:.1f} MB ({pct:3d}%)", end="", flush=True)

    return report


def cmd_models(_args: argparse.Namespace) -> int:
    for s in ZOO:
        print(f"{s.key:10s} {s.title:30s} {s.params / 1e6:6.1f} M params  ~{s.download_mb:6.1f} MB  {s.timm_name}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from vitviz.model import hub
    from vitviz.model.loading import locate_weights

    keys = [s.key for s in ZOO if not s.bundled] if args.all else args.models
    if not keys:
        print("name models to fetch (see `python -m vitviz models`) or pass --all", file=sys.stderr)
        return 2
    failed = 0
    for key in keys:
        spec = get_spec(key)
        try:
            path, source = locate_weights(spec, progress=_progress_printer(spec.title))
            print(f"\r{spec.title}: {source} -> {path}")
        except hub.HubUnavailable as exc:
            print(f"{spec.title}: not fetched: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _analyse_file(args: argparse.Namespace):
    """(bundle, analysis) of the image file named in ``args``, or None after printing why not."""
    from vitviz.model.analysis import analyze
    from vitviz.inputs.decode import ImageError, load_image
    from vitviz.model.loading import load_model

    try:
        image = load_image(Path(args.image).read_bytes())
    except (OSError, ImageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    bundle = load_model(args.model, progress=_progress_printer(get_spec(args.model).title))
    if bundle.fell_back:
        print(f"note: {bundle.fallback_reason}; using {bundle.spec.title} instead.")
    return bundle, analyze(bundle, image)


def cmd_analyze(args: argparse.Namespace) -> int:
    done = _analyse_file(args)
    if done is None:
        return 2
    bundle, a = done
    print(f"model:   {bundle.spec.title} ({bundle.spec.timm_name})")
    print(f"weights: {bundle.source}")
    print(f"device:  {bundle.device}")
    print(f"input:   {a.image.shape[1]}x{a.image.shape[0]} px, patches {a.patch_size} px, grid "
          f"{a.grid[0]}x{a.grid[1]} = {a.num_patches} patches + {a.num_prefix} CLS = {a.num_tokens} tokens")
    for name in ("patch_embeddings", "pos_embed", "cls_token", "tokens_in", "attentions", "block_outputs", "logits"):
        arr = getattr(a, name)
        print(f"  {name:17s} {str(tuple(arr.shape)):24s} {arr.dtype}")
    if a.top_labels:
        print("prediction:")
        for label, p in zip(a.top_labels, a.top_probs):
            print(f"  {p:6.1%}  {label}")
    else:
        print("prediction: this model has no classifier (self-supervised)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from vitviz.handout import handout_html

    done = _analyse_file(args)
    if done is None:
        return 2
    page = handout_html(*done, Path(args.image).name)
    args.output.write_text(page, encoding="utf-8")
    print(f"wrote {args.output} ({len(page) / 1e6:.1f} MB; opens offline)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vitviz", description="vitviz: see a Vision Transformer work.")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("models", help="list the model zoo").set_defaults(func=cmd_models)
    f = sub.add_parser("fetch", help="download weights for offline use")
    f.add_argument("models", nargs="*", help="model keys (see `models`)")
    f.add_argument("--all", action="store_true", help="every zoo model")
    f.set_defaults(func=cmd_fetch)
    a = sub.add_parser("analyze", help="analyse one image and print what was captured")
    a.add_argument("image", type=Path)
    a.add_argument("--model", default=DEFAULT_KEY, choices=[s.key for s in ZOO])
    a.set_defaults(func=cmd_analyze)
    r = sub.add_parser("report", help="write a self-contained HTML handout of the walk-through")
    r.add_argument("image", type=Path)
    r.add_argument("-o", "--output", type=Path, default=Path("handout.html"))
    r.add_argument("--model", default=DEFAULT_KEY, choices=[s.key for s in ZOO])
    r.set_defaults(func=cmd_report)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
