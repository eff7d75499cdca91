"""The bundled offline model learned something real: accuracy, attention on the shape, 2D positions.

Thresholds from its issue, on images generated with a seed that training never used.
"""

import numpy as np
import pytest
import torch
from safetensors import safe_open

from vitviz.offline import vit as offline_model
from vitviz.model.loading import load_model
from vitviz.offline.evaluate import evaluate


@pytest.fixture(scope="module")
def scores(shapes_bundle):
    return evaluate(shapes_bundle, accuracy_images=500, focus_images=200)


def test_shipped_file_is_small_safetensors():
    assert offline_model.WEIGHTS_FILE.suffix == ".safetensors"
    assert offline_model.WEIGHTS_FILE.stat().st_size <= 5 * 2**20
    with safe_open(str(offline_model.WEIGHTS_FILE), "pt") as f:
        assert "head.weight" in f.keys() and not any("cover" in k for k in f.keys())  # training-only head dropped


def test_card_describes_the_eval_transform_timm_builds(shapes_bundle):
    """Resize of the shorter side, then a centre crop: the card says so (it once said "no crop")."""
    from torchvision import transforms as T

    steps = shapes_bundle.transform.transforms
    resize = next(t for t in steps if isinstance(t, T.Resize))
    crop = next(t for t in steps if isinstance(t, T.CenterCrop))
    assert resize.size == offline_model.IMAGE_SIZE and tuple(crop.size) == (offline_model.IMAGE_SIZE,) * 2
    assert resize.interpolation == T.InterpolationMode.BICUBIC
    card = " ".join((offline_model.WEIGHTS_FILE.parent / "MODEL_CARD.md").read_text().split())
    assert "no crop" not in card
    assert "resizes the shorter side to 112 px (bicubic), then takes the centre 112×112 crop" in card


def test_colour_edges_see_any_contrast_and_nothing_else():
    flat = torch.full((1, 3, 16, 16), 0.3)
    assert offline_model.colour_edges(flat).abs().max() < 1e-6  # flat colour: no edge anywhere
    a, b = torch.tensor([0.8, -0.6, 0.1]), torch.tensor([-0.7, 0.5, 0.2])  # two contrasting colours
    left_right = torch.where(torch.arange(16) < 8, 1.0, 0.0)[None, None, None, :]  # [1, 1, 1, 16]
    step = a[None, :, None, None] * left_right + b[None, :, None, None] * (1 - left_right)  # [1, 3, 16, 16]
    swapped = b[None, :, None, None] * left_right + a[None, :, None, None] * (1 - left_right)
    edges = offline_model.colour_edges(step)[0, 0]  # [16, 16]
    assert edges[:, 7:9].min() > 0.9 and edges[:, :6].max() < 1e-6 and edges[:, 10:].max() < 1e-6
    torch.testing.assert_close(edges, offline_model.colour_edges(swapped)[0, 0])  # colour order does not matter
    torch.testing.assert_close(edges.T, offline_model.colour_edges(step.transpose(2, 3))[0, 0])  # nor direction


def test_loads_through_the_same_path_as_hub_models(shapes_bundle):
    assert shapes_bundle.spec.bundled and shapes_bundle.source == "bundled with vitviz"
    assert shapes_bundle.data_config["input_size"] == (3, 112, 112)
    assert len(shapes_bundle.labels) == 10


def test_held_out_accuracy(scores):
    assert scores.accuracy >= 0.90  # 10 classes: chance is 0.10


def test_attention_focuses_on_the_shape(scores):
    assert scores.focus_last_layer_cls >= 2.0
    assert scores.focus_rollout >= 2.0


def test_random_weights_do_not_focus():
    random = evaluate(load_model("shapes", device="cpu", pretrained=False), accuracy_images=50, focus_images=50)
    assert random.focus_last_layer_cls < 1.3 and random.focus_rollout < 1.3


def test_learned_positions_encode_distance_from_the_border(scores):
    """What the card says: neighbours are alike, but so are mirror images, and the side explains nothing."""
    assert scores.neighbour_cosine > scores.far_cosine + 0.2
    assert scores.position_code["encodes"] == "mostly distance from the border"
    code = scores.position_code
    assert min(code["mirror_left_right"], code["mirror_top_bottom"]) > code["neighbour_cosine"]
    for profile in (scores.row_profile, scores.col_profile):  # falls, then climbs back at the mirror image
        assert np.all(np.diff(profile[:4]) < 0) and profile[-1] > min(profile) + 0.5


def test_card_states_the_measured_position_code(shapes_bundle):
    from vitviz.offline.vit import WEIGHTS_FILE
    from vitviz.stages import position_code

    card = (WEIGHTS_FILE.parent / "MODEL_CARD.md").read_text()
    pos = shapes_bundle.model.pos_embed[0, shapes_bundle.model.num_prefix_tokens:].detach().numpy()  # [64, D]
    code = position_code.position_code(pos, (8, 8))
    shares = " / ".join(f"{max(v, 0):.0%}".replace("%", " %") for v in (
        code.border, code.rows, code.columns, code.together, code.left_right, code.top_bottom))
    assert shares in card
    assert f"{code.mirror_left_right:.2f} / {code.mirror_top_bottom:.2f} vs {code.neighbour_cosine:.2f}" in card
    assert "no border/centre ring dominating" not in card


def test_two_stage_training_script_runs_and_continues_its_log(tmp_path):
    from vitviz.offline.train import train
    first, second = tmp_path / "stage1.safetensors", tmp_path / "stage2.safetensors"
    train(steps=2, batch=4, lr=1e-3, seed=1, out=first, eval_every=1, patch_class_weight=0.5,
          early_patch_class_weight=0.5)
    train(steps=2, batch=4, lr=1e-4, seed=1, out=second, eval_every=2, patch_class_weight=0.5,
          early_patch_class_weight=0.5, init=first, object_attention_weight=0.5)
    import json
    log = json.loads(second.with_suffix(".log.json").read_text())
    assert [(r["stage"], r["step"]) for r in log] == [(1, 1), (1, 2), (2, 2)]
    with safe_open(str(second), "pt") as f:
        keys = set(f.keys())
        assert f.get_tensor("patch_embed.proj.weight").shape == (64, 4, 14, 14)  # RGB + colour edges
    assert keys == set(offline_model.vitviz_shapes_vit().state_dict())  # no training-only head is shipped
    with safe_open(str(first), "pt") as a, safe_open(str(second), "pt") as b:
        assert not torch.equal(a.get_tensor("head.weight"), b.get_tensor("head.weight"))  # stage 2 trained on
