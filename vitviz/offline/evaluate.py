"""Measure the bundled model on freshly generated images: accuracy, attention focus, what its positions encode.

``python -m vitviz.offline.evaluate`` prints the numbers the model card reports; the tests assert
the thresholds on the same fixed seeds.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from vitviz.stages import attention, position_code, positions
from vitviz.model.analysis import analyze
from vitviz.model.loading import Bundle, load_model
from vitviz.offline.shapes import generate_batch, patch_coverage

HELD_OUT_SEED = 20_251_127  # never used in training (training seeds are seed·1000003 + step)


@dataclass(frozen=True)
class OfflineScores:
    accuracy: float
    focus_last_layer_cls: float  # mean over images of focus_ratio(last-layer CLS attention, mean over heads)
    focus_rollout: float
    neighbour_cosine: float
    far_cosine: float
    row_profile: list[float]  # mean cosine by vertical offset 0 … rows − 1 (the offset chart)
    col_profile: list[float]
    position_code: dict  # position_code.PositionCode's shares and mirror cosines, and "encodes": what the rule finds


def evaluate(bundle: Bundle, accuracy_images: int = 500, focus_images: int = 200,
             seed: int = HELD_OUT_SEED) -> OfflineScores:
    samples = generate_batch(seed, max(accuracy_images, focus_images))
    correct, cls_focus, roll_focus = 0, [], []
    for i, s in enumerate(samples):
        a = analyze(bundle, Image.fromarray(s.image))
        correct += int(a.top_indices[0] == s.label) if i < accuracy_images else 0
        if i < focus_images:
            on_object = patch_coverage(s.mask, a.patch_size) > 0  # patches overlapping the object
            cls_focus.append(attention.focus_ratio(attention.cls_attention(a, a.depth - 1), on_object))
            roll_focus.append(attention.focus_ratio(attention.rollout_map(a), on_object))
    st = positions.structure(positions.patch_positions_embed(a), a.grid)
    code = position_code.position_code(positions.patch_positions_embed(a), a.grid)
    return OfflineScores(correct / accuracy_images, float(np.mean(cls_focus)), float(np.mean(roll_focus)),
                         st.neighbour_cosine, st.far_cosine, [round(float(v), 3) for v in st.by_row_offset],
                         [round(float(v), 3) for v in st.by_col_offset],
                         {**{k: round(v, 3) for k, v in asdict(code).items() if isinstance(v, float)},
                          "encodes": position_code.what_it_encodes(code.kinds)})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--random", action="store_true", help="score a randomly initialised model of the same shape")
    a = p.parse_args()
    bundle = load_model("shapes", device="cpu", pretrained=not a.random)
    print(json.dumps(asdict(evaluate(bundle)), indent=1))


if __name__ == "__main__":
    main()
