"""Redraw the README's screenshots (docs/screenshots/) with the browser tests, on purpose.

The tests themselves write screenshots to a temporary folder, so `python -m pytest` never changes a
tracked file. Run this after a change to what the pages look like, then look at the pictures and commit.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    env = {**os.environ, "VITVIZ_SCREENSHOTS": str(ROOT / "docs" / "screenshots"), "HF_HUB_OFFLINE": "1"}
    tests = ["tests/e2e/test_browser.py::test_every_page_in_a_real_browser",
             "tests/e2e/test_presenter_browser.py::test_presenter_mode_at_projector_size"]
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", *tests], cwd=ROOT, env=env))
