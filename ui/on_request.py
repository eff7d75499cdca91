"""Experiments that start on request: the first time a button, then at once.

A per-image experiment that runs more passes through the model than the page's own analysis (a backward pass,
tens of masked images, a shuffled run) waits for the visitor to ask for it, so that a class opening every page
at once does not spend the server on results nobody looks at. Once a visitor has asked, later changes of that
section's controls run at once; a result anyone already computed for the same image shows at once.
"""

from __future__ import annotations

import streamlit as st


def asked(flag: str, computed: bool) -> bool:
    """Whether to show the experiment now: this visitor asked for it before (``flag``), or it is ``computed``
    already (in the shared cache, for this image and these settings)."""
    return bool(st.session_state.get(flag)) or computed


def ask_button(flag: str, label: str, key: str) -> None:
    """The button that asks for the experiment: it sets ``flag`` for this visitor and reruns."""
    st.button(label, key=key, type="primary", icon="▶️", on_click=lambda: st.session_state.__setitem__(flag, True))
