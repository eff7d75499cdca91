"""What one visitor has chosen, by session-state key. Each choice has exactly one home:

- the model, its number format, presenter mode and the selected patch are the values of widgets the frame draws once
  per run in the sidebar (keyed widgets, no copies): drawn on every page, their state survives page
  changes, and a click on a chart sets the patch by writing the same key;
- the chosen image is not a widget value: it is what the last upload, camera shot or sample
  *decoded to*, so a refused file never replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import streamlit as st
from PIL import Image

from vitviz.figures import images
from vitviz.model.analysis import image_hash

K_MODEL = "vitviz_model"  # str: the requested model key (the sidebar's model picker): a zoo key, or one's own
K_OWN = "vitviz_own_models"  # list[str]: the keys of the visitor's own models picked in this session
K_PRESENTER = "vitviz_presenter"  # bool: presenter mode (the sidebar's toggle)
K_PRECISION = "vitviz_precision"  # str: the number format the model runs in (the sidebar's picker)
K_PATCH = "vitviz_patch"  # int: the selected patch, 0-based raster order (the sidebar's number input)
K_IMAGE = "vitviz_image"  # ChosenImage | None
K_IMAGE_ERROR = "vitviz_image_error"  # str | None: the last refused input, shown until a good one arrives
# The block and head of the Attention and Inside-a-block pages (their widgets' keys): a teacher's "show everyone"
# reads them and a follower's session gets them written (ui/classroom.py)
K_ATTN_LAYER, K_ATTN_HEAD = "attn_layer", "attn_head"  # int 1-based; str: head_label(h)
K_BLOCK_LAYER, K_BLOCK_HEAD = "block_layer", "block_head"  # int 1-based; int
MEAN_OF_HEADS = "mean of heads"


@dataclass(frozen=True)
class ChosenImage:
    image: Image.Image  # RGB
    name: str  # file name or sample title
    origin: str  # "upload", "camera" or "sample"
    digest: str  # image_hash(image): the image's part of every cache key
    data: bytes | None = field(default=None, compare=False, repr=False)  # the file it came from (upload, camera)

    @cached_property
    def preview(self) -> bytes:
        """A small encoded copy for the sidebar, made once (the image itself may be a large photo)."""
        return images.preview(self.image)


def chosen_image() -> ChosenImage | None:
    return st.session_state.get(K_IMAGE)


def set_image(image: Image.Image, name: str, origin: str, data: bytes | None = None) -> None:
    st.session_state[K_IMAGE] = ChosenImage(image, name, origin, image_hash(image), data)
    st.session_state[K_IMAGE_ERROR] = None


def use_image(chosen: ChosenImage) -> None:
    """Make an image someone else chose (the teacher's, decoded once per process) this session's image."""
    st.session_state[K_IMAGE] = chosen
    st.session_state[K_IMAGE_ERROR] = None


def refuse_image(message: str) -> None:
    st.session_state[K_IMAGE_ERROR] = message


def presenter() -> bool:
    return bool(st.session_state.get(K_PRESENTER, False))


def centre_patch(num_patches: int, grid: tuple[int, int]) -> int:
    return (grid[0] // 2) * grid[1] + grid[1] // 2 if grid[0] * grid[1] == num_patches else num_patches // 2


def head_label(head: int | None) -> str:
    """The Attention page's head choice for ``head`` (None: the mean of the heads)."""
    return MEAN_OF_HEADS if head is None else f"head {head}"


def head_of(label: str) -> int | None:
    return None if label == MEAN_OF_HEADS else int(label.split()[1])


def select_patch(index: int) -> None:
    """Select a patch for every page (chart clicks call this from their callback, before the rerun)."""
    st.session_state[K_PATCH] = int(index)
