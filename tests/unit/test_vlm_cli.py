"""``python -m vitviz vlm`` and ``python -m vitviz fetch smolvlm``: offline it prints the counts and how to fetch the
weights, and exits 0; a fetch from a local stand-in for the hub (serving a tiny model's files) makes the command
answer."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from huggingface_hub import constants

from tests import vlm_tiny
from tests.conftest import png_bytes
from tests.fakehub import COMMIT
from vitviz.__main__ import main
from vitviz.model import hub, smolvlm


class FolderHub:
    """The hub's model API and file downloads for one repository, served from a local folder on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        self.requests: list[str] = []
        me = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes, headers: dict, head: bool) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _answer(self, head: bool) -> None:
                me.requests.append(f"{self.command} {self.path}")
                path = self.path.split("?")[0]
                if path.startswith("/api/models/") and "/tree/" in path:  # the file listing snapshot_download reads
                    tree = [{"type": "file", "path": n, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                            for n, b in files.items()]
                    return self._send(200, json.dumps(tree).encode(), {"Content-Type": "application/json"}, head)
                if path.startswith("/api/models/"):
                    info = {"id": smolvlm.REPO_ID, "sha": COMMIT, "siblings": [{"rfilename": n} for n in files]}
                    return self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"}, head)
                name = path.rsplit("/", 1)[-1]
                if "/resolve/" in path and name in files:
                    body = files[name]
                    sha = hashlib.sha256(body).hexdigest()
                    return self._send(200, body, {"X-Repo-Commit": COMMIT, "ETag": f'"{sha}"',
                                                  "Content-Type": "application/octet-stream"}, head)
                return self._send(404, b"{}", {"Content-Type": "application/json"}, head)

            def do_HEAD(self):
                self._answer(True)

            def do_GET(self):
                self._answer(False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def empty_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def picture(tmp_path, photo) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(png_bytes(photo))
    return path


def test_vlm_without_weights_prints_counts_and_how_to_fetch(empty_cache, picture, capsys):
    assert main(["vlm", str(picture)]) == 0
    out = capsys.readouterr().out
    assert "3 rows x 4 columns of 512-px crops + the global view = 13 views" in out  # 320×240 -> 2048×1536
    assert f"{13 * 64} image tokens" in out and "word tokens need the tokenizer" in out
    assert smolvlm.FETCH_COMMAND in out


def test_vlm_json_without_weights(empty_cache, picture, capsys):
    assert main(["vlm", str(picture), "--question", "Where?", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["answer"] is None and out["image_tokens"] == 13 * 64 and out["views"] == 13
    assert out["question"] == "Where?" and smolvlm.FETCH_COMMAND in out["note"]


def test_vlm_bad_image(tmp_path, capsys):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"not an image")
    assert main(["vlm", str(bad)]) == 2
    assert "error" in capsys.readouterr().err


def test_fetch_offline_says_so(capsys):
    assert main(["fetch", "smolvlm"]) == 1
    assert "not fetched" in capsys.readouterr().err


def test_fetch_from_a_hub_then_answer(empty_cache, monkeypatch, picture, capsys):
    server = FolderHub(vlm_tiny.save(empty_cache / "tiny"))
    try:
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        hub.forget_failure()
        assert smolvlm.local_files() is None
        assert main(["fetch", "smolvlm"]) == 0, capsys.readouterr().err
        assert "fetched ->" in capsys.readouterr().out
        assert any("/api/models/" in r for r in server.requests) and any("model.safetensors" in r for r in server.requests)
    finally:
        server.close()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert smolvlm.local_files() is not None  # now found offline, in the cache
    assert main(["vlm", str(picture), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["answer"] is not None and out["steps"] and out["text_tokens"] > 0
    assert out["image_tokens"] == out["views"] * 4  # the tiny model's own settings: 4 image tokens per view
    assert all(0 < s["probability"] <= 1 for s in out["steps"])
