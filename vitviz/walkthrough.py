"""The stages of the walk-through, in order, with the page that shows each."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class Stage:
    key: str
    title: str
    page: str  # path relative to the app root, for st.page_link
    icon: str
    summary: str


HOME = "home.py"  # the home page: image, model, prediction, the pipeline, the claims


def home_page() -> st.Page:
    """The home page as a navigation entry and link target (the default page is linked by its Page object)."""
    return st.Page(HOME, title="Home", icon="🏠", default=True)

STAGES: tuple[Stage, ...] = (
    Stage("patches", "Patches", "app_pages/1_Patches.py", "🧩", "The image is cut into fixed-size squares."),
    Stage("vectors", "Vectors", "app_pages/2_Vectors.py", "➡️", "Each patch becomes a vector; a CLS token joins them."),
    Stage("attention", "Attention", "app_pages/3_Attention.py", "👀", "Every token looks at every other token."),
    Stage("positions", "Positions", "app_pages/4_Positions.py", "📍", "Position embeddings say where each patch sits."),
    Stage("bits", "Bits & memory", "app_pages/5_Bits_and_Memory.py", "💾", "Every number is stored in binary, all along."),
)
