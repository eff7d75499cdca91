"""Server time of a widget change on the Attention page, after the analysis is cached (target <= 150 ms).

Each change reruns the page script in Streamlit's AppTest (the same script run a browser triggers);
the model must not run again. Prints the median per control and the model calls counted.

    python benchmarks/widget_change.py [--model vit_s16] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VITVIZ_THREADS", "1")

from streamlit.testing.v1 import AppTest  # noqa: E402

from ui import caches  # noqa: E402
from vitviz.model.loading import load_model  # noqa: E402
from vitviz.walkthrough import BY_KEY  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="vit_s16")
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    caches.MODELS.put(load_model(a.model, device="cpu", pretrained=a.model == "shapes"))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.session_state["vitviz_model"] = a.model
    at.run()
    at.selectbox(key="vitviz_sample").select("cat").run()
    at.switch_page(BY_KEY["attention"].page).run()
    at.selectbox(key="grad_class").select(0).run()  # the on-demand backward pass, once
    calls = caches.MODELS.peek(a.model).forward_calls
    depth = len(caches.MODELS.peek(a.model).model.blocks)
    changes = {
        "layer slider": lambda i: at.slider(key="attn_layer").set_value(1 + i % depth),
        "head select": lambda i: at.selectbox(key="attn_head").select_index(i % 3),
        "opacity slider": lambda i: at.slider(key="attn_opacity").set_value(0.3 + 0.1 * (i % 5)),
        "selected patch": lambda i: at.number_input(key="vitviz_patch").set_value(10 + i),
        "rollout fusion": lambda i: at.radio(key="rollout_fusion").set_value(("mean", "max", "min")[i % 3]),
    }
    print(f"Attention page, {a.model}, {a.repeats} changes per control (server script time, AppTest)")
    for name, change in changes.items():
        times = []
        for i in range(a.repeats):
            change(i)
            start = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - start)
        assert not at.exception, at.exception
        print(f"  {name:16s} median {1000 * statistics.median(times):7.1f} ms   (target <= 150 ms)")
    print(f"  model forward passes during the changes: {caches.MODELS.peek(a.model).forward_calls - calls}")


if __name__ == "__main__":
    main()
