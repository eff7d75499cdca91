"""The command line: analyze, report, fetch (offline here), models."""

from vitviz.__main__ import main
from vitviz.inputs.samples import SAMPLES_DIR


def test_analyze_prints_prediction_source_and_shapes(capsys):
    assert main(["analyze", str(SAMPLES_DIR / "cat.jpg"), "--model", "shapes"]) == 0
    out = capsys.readouterr().out
    assert "weights: bundled with vitviz" in out and "attentions" in out and "(4, 4, 65, 65)" in out
    assert "prediction:" in out


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
