"""Resident memory of a process after one analysis (targets: ViT-S <= 0.9 GB), measured in a fresh
subprocess per model, with the app's imports (streamlit, plotly, vitviz).

    python benchmarks/memory_rss.py [--models vit_s16 vit_b16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, resource
sys.path.insert(0, {root!r})
os.environ["HF_HUB_OFFLINE"] = "1"
import psutil, streamlit, plotly  # what the app process imports
from vitviz.model.analysis import analyze
from vitviz.inputs.decode import load_image
from vitviz.model.loading import load_model
from vitviz.inputs.samples import BY_KEY
before = psutil.Process().memory_info().rss
bundle = load_model({key!r}, device="cpu", pretrained={pretrained})
a = analyze(bundle, load_image(BY_KEY["cat"].data()))
rss = psutil.Process().memory_info().rss
uss = psutil.Process().memory_full_info().uss  # private memory: what the process alone holds
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(dict(rss=rss, uss=uss, peak=peak, imports=before, analysis=a.nbytes)))
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", nargs="*", default=["vit_s16", "vit_b16", "shapes"])
    a = p.parse_args()
    print("Resident memory after one analysis (fresh process each; random weights, same size as the real ones)")
    for key in a.models:
        code = CHILD.format(root=str(ROOT), key=key, pretrained=key == "shapes")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "VITVIZ_THREADS": "1"})
        r = json.loads(out.stdout.strip().splitlines()[-1])
        target = "  (target <= 0.9 GB)" if key == "vit_s16" else ""
        print(f"  {key:8s} RSS {r['rss'] / 1e9:5.2f} GB (private {r['uss'] / 1e9:4.2f} GB), peak {r['peak'] / 1e9:5.2f} GB "
              f"(imports alone {r['imports'] / 1e9:4.2f} GB, analysis arrays {r['analysis'] / 1e6:5.1f} MB){target}")


if __name__ == "__main__":
    main()
