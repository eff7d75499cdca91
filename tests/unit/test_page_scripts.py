"""The scripts Streamlit runs (the entry, the home page, the stage pages) draw only what they call: Streamlit's
"magic" is off (``.streamlit/config.toml``), and no script has a line that magic would have drawn."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner import magic

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = [ROOT / "streamlit_app.py", ROOT / "home.py", *sorted((ROOT / "app_pages").glob("*.py"))]


def _magic_writes(source: str, name: str) -> list[int]:
    """Lines where Streamlit's magic would draw a value (it wraps them in ``__streamlitmagic__.transparent_write``)."""
    tree = magic.add_magic(source, name)
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "transparent_write" and getattr(node.func.value, "id", "") == magic.MAGIC_MODULE_NAME]


def test_magic_is_off():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["magicEnabled"] is False


def test_the_check_finds_what_magic_draws():
    # constructed: a bare name and a bare f-string are drawn by magic; docstrings, calls and assignments are not
    source = '"""The page."""\nimport streamlit as st\nx = 1\nx\nst.write(2)\ndef f():\n    """doc"""\n    f"{x}"\n'
    assert _magic_writes(source, "t.py") == [4, 8]
    assert _magic_writes('"""The page."""\nimport streamlit as st\nst.write(1)\n', "t.py") == []


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_page_relies_on_magic(script: Path):
    assert len(SCRIPTS) >= 11  # the entry, the home page and the stage pages
    assert _magic_writes(script.read_text(), str(script)) == []
