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


def test_models_lists_the_zoo(capsys):
    assert main(["models"]) == 0
    assert "vit_b16" in capsys.readouterr().out


def test_faithfulness_prints_the_prediction_and_the_areas_per_map(capsys):
    assert main(["faithfulness", str(SAMPLES_DIR / "cat.jpg"), "--model", "shapes"]) == 0
    out = capsys.readouterr().out
    assert "predicted: " in out and "occlusion" in out and "random order (mean)" in out and "On this image" in out


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
    assert "(random initialisation (no pretrained weights))" in out  # the model line names the source
    assert "note:    The model is not sure of anything" in out


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


def test_faithfulness_bad_input_is_a_clear_error(tmp_path, capsys):
    assert main(["faithfulness", str(tmp_path / "missing.jpg"), "--model", "shapes"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["faithfulness", "--images", str(tmp_path), "--model", "shapes"]) == 2
    assert "no images" in capsys.readouterr().err
