"""Time from process start to the first rendered home page (target <= 6 s), in Debian's Chromium.

Starts `streamlit run` (offline: the model weights come from local files), opens the page as soon as
the server answers, and stops the clock when the home page has finished its first run (title drawn,
model loaded, no script running). Repeats and prints the median.

    python benchmarks/startup.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, _free_port, stop_server  # noqa: E402


def once(browser) -> tuple[float, float, float]:
    import os
    import subprocess

    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VITVIZ_THREADS": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen(f"exec {sys.executable} -m streamlit run streamlit_app.py --server.port {port} "
                            "--server.address 127.0.0.1 --server.headless true --server.fileWatcherType none",
                            shell=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        healthy = time.perf_counter() - start
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("h1", timeout=60_000)  # the home page is on screen
        first = time.perf_counter() - start
        page.wait_for_selector("text=Running on", timeout=60_000)  # the sidebar line written once the model is loaded
        page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)
        ready = time.perf_counter() - start
        page.close()
        return healthy, first, ready
    finally:
        stop_server(proc)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        runs = [once(browser) for _ in range(a.repeats)]
        browser.close()
    print(f"process start -> server healthy:            median {statistics.median(r[0] for r in runs):.2f} s")
    print(f"process start -> home page on screen:       median {statistics.median(r[1] for r in runs):.2f} s "
          f"(target <= 6 s)")
    print(f"process start -> model loaded, page idle:   median {statistics.median(r[2] for r in runs):.2f} s "
          f"(runs: {', '.join(f'{r[2]:.2f}' for r in runs)})")


if __name__ == "__main__":
    main()
