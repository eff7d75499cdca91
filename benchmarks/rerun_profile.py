"""Server CPU of each page's script run, per page: a learner's walk with a new image, and a cached rerun (AppTest).

Three numbers per page, each the CPU of the script thread (``time.thread_time`` around Streamlit's script run):
- **model's first**: the first image of the process walks every page (home, then each stage in order): the
  model's own work (projection filters, position figures, sizes) is done here, once per model and process;
- **new image**: a second image walks the same pages: what every further learner with an image of their own costs;
- **cached rerun**: that page run again with nothing new to compute (the median of ``--reruns``).
The image step itself (choosing the sample: the analysis) is the row ``image``.

Streamlit's server compiles each page's script once and keeps the bytecode (``ScriptCache``); AppTest compiles it
again on every run. The benchmark keeps one ``ScriptCache`` for the whole process, as the server does, so that a
page's CPU is not half the compiler.

``--against OTHER`` measures before and after side by side in one run: every round runs the walk once in a fresh
process from ``OTHER`` (another checkout, e.g. ``git worktree add /tmp/vitviz_main main``) and once from this
checkout, alternately, and prints the medians and the ratios this/other. ``--profile``: one more walk under
cProfile, printing the top functions of the new image's pages (cProfile slows Python code down; the table's numbers
are measured without it); with ``VITVIZ_PROFILE_OUT=FILE`` the raw profile is written there too (for pstats'
callers and callees).

    python benchmarks/rerun_profile.py                                  # ViT-S/16, random weights, every page
    python benchmarks/rerun_profile.py --against /tmp/vitviz_main --rounds 3
    python benchmarks/rerun_profile.py --model shapes --profile --top 25
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
PHASES = ("model's first", "new image", "cached rerun")
SAMPLES = ("astronaut", "rocket")  # neither is a page's comparison sample (cat, coffee): those are shared by all


def _shared_script_cache() -> None:
    """One ``ScriptCache`` for every AppTest run of this process, as the server keeps one for all sessions."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    shared = ScriptCache()
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: shared


class _ScriptThread:
    """CPU of the script thread's runs (``time.thread_time`` inside ``ScriptRunner._run_script``: AppTest's own
    thread, which polls for the end of the run, is not the server's cost), optionally under cProfile."""

    def __init__(self) -> None:
        from streamlit.runtime.scriptrunner import script_runner

        self.cpu = 0.0
        self.profile: cProfile.Profile | None = None
        real = script_runner.ScriptRunner._run_script
        me = self

        def run_script(runner, *args, **kwargs):
            if me.profile is not None:
                me.profile.enable()
            c0 = time.thread_time()
            try:
                return real(runner, *args, **kwargs)
            finally:
                me.cpu += time.thread_time() - c0
                if me.profile is not None:
                    me.profile.disable()

        script_runner.ScriptRunner._run_script = run_script


def walk(root: Path, model: str, reruns: int, profile: bool) -> dict:
    """The three phases in this process, the app imported from ``root``; {phase: {page: CPU s}}."""
    sys.path.insert(0, str(root))
    os.chdir(root)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("VITVIZ_THREADS", "1")
    import torch
    from streamlit.testing.v1 import AppTest

    from vitviz.walkthrough import STAGES

    torch.set_num_threads(1)
    _shared_script_cache()
    script = _ScriptThread()
    prof = cProfile.Profile() if profile else None
    pages = [("home", "home.py")] + [(s.key, s.page) for s in STAGES]
    out: dict[str, dict[str, float]] = {p: {} for p in PHASES}
    errors: list[str] = []

    def timed(at: AppTest, phase: str, name: str, action) -> None:
        script.profile = prof if phase == "new image" else None
        c0 = script.cpu
        action()
        out[phase][name] = script.cpu - c0
        script.profile = None
        errors.extend(f"{phase} {name}: {e.value}"[:300] for e in at.exception)

    at = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=300)
    at.session_state["vitviz_model"] = model
    at.run()  # the frame's first run: the model loads (not a page's cost)
    for phase, sample in zip(PHASES[:2], SAMPLES):
        at.switch_page("home.py").run()
        timed(at, phase, "image", lambda: at.selectbox(key="vitviz_sample").select(sample).run())
        for name, page in pages:
            timed(at, phase, name, lambda: at.switch_page(page).run())
    for name, page in pages:
        at.switch_page(page).run()
        cpu = []
        for _ in range(reruns):
            c0 = script.cpu
            at.run()
            cpu.append(script.cpu - c0)
        out["cached rerun"][name] = statistics.median(cpu)
    if prof is not None:
        if os.environ.get("VITVIZ_PROFILE_OUT"):  # the raw profile too, for pstats' callers and callees
            prof.dump_stats(os.environ["VITVIZ_PROFILE_OUT"])
        stats = pstats.Stats(prof, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(TOP[0])
        stats.sort_stats("cumulative").print_stats(r"(vitviz|ui|app_pages|home\.py)", TOP[0])
    return {"cpu": out, "errors": errors}


TOP = [25]


def _child(root: Path, args: argparse.Namespace, weights: str) -> dict:
    env = {**os.environ, "VITVIZ_WEIGHTS_DIR": weights, "PYTHONPATH": str(root)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(root), "--model", args.model,
           "--reruns", str(args.reruns)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"the walk from {root} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print_table(results: dict[str, list[dict]], labels: list[str]) -> None:
    med = {lab: {ph: {n: statistics.median(r["cpu"][ph][n] for r in results[lab]) for n in results[lab][0]["cpu"][ph]}
                 for ph in PHASES} for lab in labels}
    for ph in PHASES:
        rows = list(med[labels[-1]][ph])
        print(f"\n{ph} (CPU s per page, median of {len(results[labels[-1]])} rounds)")
        print(f"{'page':14s} " + " ".join(f"{lab:>12s}" for lab in labels) + ("   ratio" if len(labels) > 1 else ""))
        for n in rows + ["walk total"]:
            vals = [sum(med[lab][ph][r] for r in rows) if n == "walk total" else med[lab][ph][n] for lab in labels]
            ratio = f"  {vals[-1] / vals[0]:6.2f}" if len(vals) > 1 and vals[0] else ""
            print(f"{n:14s} " + " ".join(f"{v:12.3f}" for v in vals) + ratio)
    for lab in labels:
        errs = [e for r in results[lab] for e in r["errors"]]
        if errs:
            print(f"exceptions ({lab}): {errs[:5]}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="vit_s16", help="zoo key (random weights; 'shapes': the bundled model)")
    p.add_argument("--reruns", type=int, default=3)
    p.add_argument("--rounds", type=int, default=1, help="walks per checkout, alternating")
    p.add_argument("--against", type=Path, help="another checkout: measured side by side with this one")
    p.add_argument("--profile", action="store_true", help="one more walk under cProfile (this checkout)")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    TOP[0] = args.top
    if args.child:
        print(json.dumps(walk(args.child, args.model, args.reruns, args.profile)))
        return 0
    sys.path.insert(0, str(HERE / "benchmarks"))
    sys.path.insert(0, str(HERE))
    from classroom_load import write_random_weights  # noqa: PLC0415

    roots = ([args.against.resolve()] if args.against else []) + [HERE]
    labels = (["other", "this"] if args.against else ["this"])
    results: dict[str, list[dict]] = {lab: [] for lab in labels}
    with tempfile.TemporaryDirectory() as weights:
        write_random_weights(args.model, Path(weights))
        for r in range(args.rounds):
            for lab, root in (zip(labels, roots) if r % 2 == 0 else reversed(list(zip(labels, roots)))):
                results[lab].append(_child(root, args, weights))
                print(f"round {r + 1}: {lab} ({root}) walked", file=sys.stderr)
        if args.rounds:
            print(f"model {args.model}; " + "; ".join(f"{lab}: {root}" for lab, root in zip(labels, roots)))
            _print_table(results, labels)
        if args.profile:
            env = {**os.environ, "VITVIZ_WEIGHTS_DIR": weights, "PYTHONPATH": str(HERE)}
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(HERE), "--model", args.model,
                            "--reruns", "1", "--profile", "--top", str(args.top)], env=env, stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
