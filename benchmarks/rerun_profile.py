"""Where a rerun's server CPU goes once the analysis is cached: each page opened as a learner does
(AppTest), then rerun a few times under cProfile; prints CPU per rerun and the top functions per page.

    python benchmarks/rerun_profile.py                       # ViT-S/16, random weights, every page
    python benchmarks/rerun_profile.py --pages attention --top 25
    python benchmarks/rerun_profile.py --first               # first visits (experiments, figures), not reruns
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("VITVIZ_THREADS", "1")

from streamlit.runtime.scriptrunner import script_runner  # noqa: E402

from vitviz.walkthrough import BY_KEY, STAGES  # noqa: E402

PROFILE = cProfile.Profile()
_real_run_script = script_runner.ScriptRunner._run_script
_active = [False]


def _profiled_run_script(self, *args, **kwargs):
    """The script thread's run, profiled while ``_active`` (cProfile sees only the thread it runs in)."""
    if not _active[0]:
        return _real_run_script(self, *args, **kwargs)
    PROFILE.enable()
    try:
        return _real_run_script(self, *args, **kwargs)
    finally:
        PROFILE.disable()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="vit_s16")
    p.add_argument("--sample", default="cat")
    p.add_argument("--pages", nargs="*", default=["home"] + [s.key for s in STAGES])
    p.add_argument("--reruns", type=int, default=3)
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--first", action="store_true",
                   help="profile each page's first visit (its image analysed, nothing else cached): a new sample "
                        "per page, so no page finds another's figures or experiments")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as weights:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from classroom_load import write_random_weights  # noqa: PLC0415

        write_random_weights(args.model, Path(weights))
        os.environ["VITVIZ_WEIGHTS_DIR"] = weights
        import torch  # noqa: PLC0415

        torch.set_num_threads(1)
        from tests.app.pages import open_page  # noqa: PLC0415

        script_runner.ScriptRunner._run_script = _profiled_run_script
        summary = []
        from vitviz.inputs.samples import gallery  # noqa: PLC0415

        samples = [s.key for s in gallery(for_shapes_model=args.model == "shapes")]
        for n, page in enumerate(args.pages):
            global PROFILE
            PROFILE = cProfile.Profile()
            cpu, wall = [], []
            if args.first:  # the sample's analysis on the Patches page, then this page's first visit, profiled
                at = open_page(args.model, samples[n % len(samples)], STAGES[0].key)
                _active[0] = True
                c0, t0 = time.process_time(), time.perf_counter()
                at.switch_page("home.py" if page == "home" else BY_KEY[page].page).run()
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - t0)
                _active[0] = False
            else:
                at = open_page(args.model, args.sample, page if page != "home" else STAGES[0].key)
                if page == "home":
                    at.switch_page("home.py").run()
                at.run()  # one more: every experiment and figure of this page is in the caches now
                _active[0] = True
                for _ in range(args.reruns):
                    c0, t0 = time.process_time(), time.perf_counter()
                    at.run()
                    cpu.append(time.process_time() - c0)
                    wall.append(time.perf_counter() - t0)
                _active[0] = False
            errors = [e.value for e in at.exception]
            summary.append((page, statistics.median(cpu), statistics.median(wall), len(errors)))
            print(f"\n=== {page}: CPU per {'first visit' if args.first else 'rerun'} {statistics.median(cpu):.3f} s (wall {statistics.median(wall):.3f} s)"
                  f"{'; exceptions: ' + str(errors)[:300] if errors else ''}")
            stats = pstats.Stats(PROFILE)
            stats.sort_stats("tottime").print_stats(args.top)
            stats.sort_stats("cumulative").print_stats(r"(vitviz|ui|app_pages|home\.py)", args.top)
        print("\npage            CPU/rerun   wall/rerun")
        for page, c, w, n in summary:
            print(f"{page:14s} {c:8.3f} s {w:10.3f} s{'  exceptions: %d' % n if n else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
