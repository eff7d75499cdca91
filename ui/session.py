"""Session-state keys and accessors: what one visitor has chosen, carried across pages.

Widget values are copied into plain keys (``K_*``) by callbacks: Streamlit forgets a widget's
state on pages that do not draw it, and the image and model must survive page changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from PIL import Image

from vitviz.model.analysis import image_hash
from vitviz.model.zoo import DEFAULT_KEY, ZOO

K_MODEL = "vitviz_model"  # str: the requested zoo key
K_IMAGE = "vitviz_image"  # ChosenImage | None
K_IMAGE_ERROR = "vitviz_image_error"  # str | None: the last refused input, shown once
K_PATCH = "vitviz_patch"  # int: the selected patch index (0-based, raster order), shared by pages
K_PRESENTER = "vitviz_presenter"  # bool: presenter mode (large type for a projector)


@dataclass(frozen=True)
class ChosenImage:
    image: Image.Image  # RGB
    name: str  # file name or sample title
    origin: str  # "upload", "camera" or "sample"
    digest: str


def model_key() -> str:
    key = st.session_state.get(K_MODEL, DEFAULT_KEY)
    return key if key in {s.key for s in ZOO} else DEFAULT_KEY


def set_model_key(key: str) -> None:
    st.session_state[K_MODEL] = key


def chosen_image() -> ChosenImage | None:
    return st.session_state.get(K_IMAGE)


def set_image(image: Image.Image, name: str, origin: str) -> None:
    st.session_state[K_IMAGE] = ChosenImage(image, name, origin, image_hash(image))
    st.session_state[K_IMAGE_ERROR] = None


def selected_patch(num_patches: int) -> int:
    """The selected patch, clamped to this model's grid (the centre patch by default)."""
    p = st.session_state.get(K_PATCH)
    if not isinstance(p, int) or not 0 <= p < num_patches:
        side = int(round(num_patches ** 0.5))
        p = (side // 2) * side + side // 2 if side * side == num_patches else num_patches // 2
    return p


def set_selected_patch(index: int) -> None:
    st.session_state[K_PATCH] = int(index)


def presenter() -> bool:
    return bool(st.session_state.get(K_PRESENTER, False))
