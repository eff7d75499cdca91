"""Server time of a widget change on the Attention and Inside-a-block pages, after the analysis is cached
(target <= 150 ms).

Each change reruns the page script in Streamlit's AppTest (the same script run a browser triggers);
the model must not run again. Prints the median per control, the model calls counted and, on the
block page, the passes through the whole stack of blocks (the float32 recompute runs once per image).

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
from vitviz.stages.block import STEP_KEYS  # noqa: E402
from vitviz.walkthrough import BY_KEY  # noqa: E402


def timed(at: AppTest, changes: dict, repeats: int) -> None:
    """Apply each change ``repeats`` times, timing the rerun it triggers; print the medians."""
    for name, change in changes.items():
        times = []
        for i in range(repeats):
            change(i)
            start = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - start)
        assert not at.exception, at.exception
        print(f"  {name:16s} median {1000 * statistics.median(times):7.1f} ms   (target <= 150 ms)")


def block_page(at: AppTest, model: str, repeats: int) -> None:
    """The Inside-a-block page: step changes (a click on the diagram writes the radio's key), layer, head,
    temperature. "step, first view": a step not drawn before for this block (its figures are built)."""
    bundle = caches.MODELS.peek(model)
    depth = len(bundle.model.blocks)
    stacks = [0]  # runs of the last block: passes through the whole stack (the float32 recompute, once per image)
    hook = bundle.model.blocks[-1].register_forward_hook(lambda *_: stacks.__setitem__(0, stacks[0] + 1))
    at.switch_page(BY_KEY["block"].page).run()
    calls, passes = bundle.forward_calls, stacks[0]
    steps = list(STEP_KEYS)
    print(f"Inside a block, {model}, {repeats} changes per control")
    first = []
    for i in range(repeats):  # a block not shown before, then a step not drawn before on it
        at.radio(key="block_step").set_value("attn").run()
        at.slider(key="block_layer").set_value(1 + i % depth).run()
        at.radio(key="block_step").set_value(steps[i % len(steps)] if steps[i % len(steps)] != "attn" else "mlp")
        start = time.perf_counter()
        at.run()
        first.append(time.perf_counter() - start)
    assert not at.exception, at.exception
    print(f"  {'step, first view':16s} median {1000 * statistics.median(first):7.1f} ms   (target <= 150 ms)")
    for step in ("norm1", "mlp"):  # drawn once: "step, seen" goes back and forth between them
        at.radio(key="block_step").set_value(step).run()
    timed(at, {"step, seen": lambda i: at.radio(key="block_step").set_value(steps[i % 2 * 4]),  # norm1 / mlp
               "layer slider": lambda i: at.slider(key="block_layer").set_value(1 + (i + 3) % depth),
               "head select": lambda i: at.selectbox(key="block_head").select((i + 1) % 3)}, repeats)
    at.radio(key="block_step").set_value("attn").run()  # the temperature what-if lives in the attention step
    timed(at, {"temperature": lambda i: at.select_slider(key="block_temperature").set_value((0.5, 2.0, 4.0)[i % 3])},
          repeats)
    hook.remove()
    print(f"  model forward passes during the changes: {bundle.forward_calls - calls}; passes through the whole "
          f"stack of blocks: {stacks[0] - passes}")


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
    timed(at, changes, a.repeats)
    print(f"  model forward passes during the changes: {caches.MODELS.peek(a.model).forward_calls - calls}")
    block_page(at, a.model, a.repeats)


if __name__ == "__main__":
    main()
