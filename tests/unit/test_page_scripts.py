"""The scripts Streamlit runs (the entry, the home page, the stage pages) draw only what they call: Streamlit's
"magic" is off (``.streamlit/config.toml``), and no script has a line that magic would have drawn."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner import magic
from streamlit.testing.v1.util import patch_config_options

from vitviz.walkthrough import HOME_PAGE, STAGES

ROOT = Path(__file__).resolve().parents[2]
# what Streamlit compiles and runs: the entry and the pages ui/frame.py navigates (imported modules never pass magic)
SCRIPTS = [ROOT / "streamlit_app.py", ROOT / HOME_PAGE, *(ROOT / s.page for s in STAGES)]


def _magic_writes(source: str, name: str) -> list[int]:
    """Lines where Streamlit's magic would draw a value (it wraps them in ``__streamlitmagic__.transparent_write``),
    with magic's own options at their defaults (a developer's ``~/.streamlit`` config cannot change the answer)."""
    with patch_config_options({"magic.displayLastExprIfNoSemicolon": False, "magic.displayRootDocString": False}):
        tree = magic.add_magic(source, name)
    return sorted(node.lineno for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "transparent_write"
                  and getattr(node.func.value, "id", "") == magic.MAGIC_MODULE_NAME)


def test_magic_is_off():
    """The server's settings turn magic off, so nothing is drawn that a page did not call."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["magicEnabled"] is False


def test_the_check_finds_what_magic_draws():
    # constructed: a bare name and a bare f-string are drawn by magic; docstrings, calls and assignments are not
    source = '"""The page."""\nimport streamlit as st\nx = 1\nx\nst.write(2)\ndef f():\n    """doc"""\n    f"{x}"\n'
    assert _magic_writes(source, "t.py") == [4, 8]
    assert _magic_writes('"""The page."""\nimport streamlit as st\nst.write(1)\n', "t.py") == []


def test_every_script_streamlit_runs_is_checked():
    """The entry, the home page and each stage page, all present."""
    assert len(SCRIPTS) == 2 + len(STAGES) and all(p.is_file() for p in SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_page_relies_on_magic(script: Path):
    """With magic off a bare expression would silently draw nothing: no script has one."""
    assert _magic_writes(script.read_text(), str(script)) == []
