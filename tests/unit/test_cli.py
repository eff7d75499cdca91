import pytest
"""The command line: analyze, report, fetch (offline here), models."""

from vitviz.__main__ import main
from vitviz.inputs.samples import SAMPLES_DIR


def test_analyze_prints_prediction_source_and_shapes(capsys):
    assert main(["analyze", str(SAMPLES_DIR / "cat.jpg"), "--model", "shapes"]) == 0
    out = capsys.readouterr().out
    assert "weights: bundled with vitviz" in out and "attentions" in out and "(4, 4, 65, 65)" in out
    assert "prediction:" in out and "trained: Trained here on generated images" in out and "MODEL_CARD.md" in out
    assert "not sure of anything" not in out  # measured: the bundled model puts most of its mass on one class


def test_bad_image_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"nope")
    assert main(["analyze", str(bad), "--model", "shapes"]) == 2
    assert "not an image" in capsys.readouterr().err


def test_report_writes_an_offline_handout(tmp_path):
    out = tmp_path / "h.html"
    assert main(["report", str(SAMPLES_DIR / "coffee.jpg"), "-o", str(out), "--model", "shapes"]) == 0
    assert out.stat().st_size > 1_000_000 and "plotly-graph-div" in out.read_text()


def test_fetch_without_network_says_so(capsys):
    assert main(["fetch", "vit_ti16"]) == 1
    assert "not fetched" in capsys.readouterr().err


def test_models_lists_the_zoo_with_the_size_of_each_file_on_this_computer(capsys):
    from vitviz.model.loading import local_weights
    from vitviz.model.zoo import ZOO
    from vitviz.offline.vit import WEIGHTS_FILE

    assert main(["models"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(lines) == {s.key for s in ZOO}
    # the bundled file's own size (fp16 and a header), not parameters × 4 (0.889 MB)
    assert f"{WEIGHTS_FILE.stat().st_size / 1e6:.3f} MB file (bundled with vitviz)" in lines["shapes"]
    for s in ZOO:
        found = local_weights(s)
        expected = (f"{found[0].stat().st_size / 1e6:.3f} MB file" if found else
                    f"{s.params * 4 / 1e6:.3f} MB: parameters × 4 bytes, not on this computer")
        assert expected in lines[s.key], lines[s.key]


def test_faithfulness_prints_the_prediction_and_the_areas_per_map(capsys):
    assert main(["faithfulness", str(SAMPLES_DIR / "cat.jpg"), "--model", "shapes"]) == 0
    out = capsys.readouterr().out
    assert "predicted: " in out and "occlusion" in out and "On this image" in out
    assert "random order: mean of 4" in out and "The rule: " in out


def test_faithfulness_prints_random_orders_range_beside_their_mean(tmp_path, capsys):
    """The star on the bundled model: the maps' insertion areas are below random order's mean and inside its range;
    the range is printed (text and JSON), so "no better than random" does not read as a contradiction."""
    import json

    from vitviz.inputs.samples import BY_KEY

    star = tmp_path / "star.png"
    star.write_bytes(BY_KEY["shape_star"].data())
    assert main(["faithfulness", str(star), "--model", "shapes", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    lo, hi = r["random"]["insertion_range"]
    assert lo <= r["random"]["insertion"] <= hi
    for m in r["methods"].values():
        assert lo <= m["insertion"] < r["random"]["insertion"]
        assert m["vs_random"] == {"deletion": "better",
                                  "insertion": "no better (within random's range ± 1% of the clean score)"}
    assert r["margin"]["clean_score"] == pytest.approx(r["target"]["score_unmasked"], abs=1e-6)
    assert r["margin"]["value"] == pytest.approx(0.01 * r["margin"]["clean_score"]) and "1% of 0.897 = 0.00897" in r["rule"]
    assert f"{lo:.3f}–{hi:.3f}" in r["verdict"] and r["insertion_note"].startswith("Why ")
    assert "better than random" in r["rule"] and "within random's range" in r["rule"]
    assert main(["faithfulness", str(star), "--model", "shapes"]) == 0
    out = capsys.readouterr().out
    assert f"{lo:.4f}–{hi:.4f}" in out and "random order: range (min–max)" in out
    assert "no better (within random's range ± 1% of the clean score)" in out and r["insertion_note"] in out


def test_faithfulness_json_has_the_fields(capsys):
    import json

    assert main(["faithfulness", str(SAMPLES_DIR / "coffee.jpg"), "--model", "shapes", "--json", "--rank", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "shapes" and doc["predicted"]["label"] and doc["target"]["kind"] == "class probability"
    assert set(doc["methods"]) == {"attention", "rollout", "gradient", "occlusion"}
    for m in doc["methods"].values():
        assert 0 <= m["deletion"] <= 1 and 0 <= m["insertion"] <= 1 and set(m["vs_random"]) == {"deletion", "insertion"}
    assert doc["random"]["orders"] == 4 and doc["verdict"].startswith("On this image")
    assert doc["target"]["label"] != doc["predicted"]["label"]  # --rank 1: the second class
    assert doc["predicted"]["not_sure"] is None  # the bundled model is sure of something


def test_faithfulness_of_random_weights_says_the_model_is_not_sure(capsys):
    assert main(["faithfulness", str(SAMPLES_DIR / "cat.jpg"), "--model", "shapes", "--random-weights"]) == 0
    out = capsys.readouterr().out
    assert "(random initialisation, seed 0 (no pretrained weights))" in out  # the model line names the source
    assert "note:    The model is not sure of anything" in out


def test_faithfulness_margin_follows_a_random_models_small_score(capsys):
    """A random model's class score is about 1/classes: the rule's margin is a share of it, not a fixed 0.01 that
    would exceed the whole score, and the areas print with their digits."""
    import json

    assert main(["faithfulness", str(SAMPLES_DIR / "cat.jpg"), "--model", "shapes", "--random-weights", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    base = r["target"]["score_unmasked"]
    assert base < 0.5 and r["margin"]["value"] == pytest.approx(0.01 * base, rel=1e-5)
    lo, hi = r["random"]["deletion_range"]
    for m in r["methods"].values():  # each word is the rule applied with that margin
        v, margin = m["deletion"], r["margin"]["value"]
        expected = "better" if v < lo - margin else "worse" if v > hi + margin else \
            "no better (within random's range ± 1% of the clean score)"
        assert m["vs_random"]["deletion"] == expected


def test_faithfulness_over_a_folder_gives_mean_and_spread(tmp_path, capsys):
    import json
    import shutil

    for name in ("cat.jpg", "rocket.jpg"):
        shutil.copy(SAMPLES_DIR / name, tmp_path / name)
    (tmp_path / "broken.png").write_bytes(b"nope")
    assert main(["faithfulness", "--images", str(tmp_path), "--model", "shapes", "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert [r["image"] for r in doc["images"]] == ["cat.jpg", "rocket.jpg"]
    assert "broken.png" in captured.err
    s = doc["summary"]["occlusion"]
    assert s["images"] == 2 and {"mean", "std"} <= set(s["deletion"]) and "deletion_minus_random" in s
    assert sum(s["insertion_vs_random"].values()) == 2  # images per verdict word
    assert all(r["random"]["insertion_range"][0] <= r["random"]["insertion"] for r in doc["images"])


def test_faithfulness_bad_input_is_a_clear_error(tmp_path, capsys):
    assert main(["faithfulness", str(tmp_path / "missing.jpg"), "--model", "shapes"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["faithfulness", "--images", str(tmp_path), "--model", "shapes"]) == 2
    assert "no images" in capsys.readouterr().err
