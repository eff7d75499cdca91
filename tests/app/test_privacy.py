"""Privacy, tested: an upload writes no file on its way from the socket to the analysis, and the shared
caches hand an analysis (or a figure) only to a session that holds the same image."""

from __future__ import annotations

import asyncio
import builtins
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from starlette.formparsers import MultiPartParser
from starlette.requests import Request

from tests.conftest import png_bytes
from ui import caches, uploads
from ui.context import Context
from ui.session import ChosenImage
from vitviz.inputs.decode import load_image
from vitviz.model.analysis import image_hash
from vitviz.views import attention as attention_views
from vitviz.views import positions as positions_views

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class WriteWatch:
    """Records every attempt to open a file for writing or to make a temporary file."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.writes: list[str] = []
        real_open, real_os_open = builtins.open, os.open

        def watched_open(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+"):
                self.writes.append(f"open({file!r}, {mode!r})")
            return real_open(file, mode, *args, **kwargs)

        def watched_os_open(path, flags, *args, **kwargs):
            if flags & WRITE_FLAGS:
                self.writes.append(f"os.open({path!r})")
            return real_os_open(path, flags, *args, **kwargs)

        def refuse(name):
            def made(*args, **kwargs):
                self.writes.append(f"tempfile.{name}")
                raise AssertionError(f"tempfile.{name} called")
            return made

        monkeypatch.setattr(builtins, "open", watched_open)
        monkeypatch.setattr(io, "open", watched_open)
        monkeypatch.setattr(os, "open", watched_os_open)
        for name in ("TemporaryFile", "NamedTemporaryFile", "mkstemp", "mkdtemp"):
            monkeypatch.setattr(tempfile, name, refuse(name))


def _listing() -> dict[str, set[str]]:
    """The names in the places an accidental write would land: temp dir, working dir, home."""
    places = {tempfile.gettempdir(), os.getcwd(), str(Path.home())}
    return {p: set(os.listdir(p)) for p in places if os.path.isdir(p)}


def _photo(seed: int, size: tuple[int, int] = (900, 700)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _multipart(data: bytes, boundary: str = "vitvizboundary") -> tuple[bytes, bytes]:
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}".encode()


def _parse_upload(body: bytes, content_type: bytes) -> bytes:
    """Starlette's own multipart parsing, as Streamlit's upload endpoint runs it (``request.form()``)."""
    async def parse() -> bytes:
        chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]

        async def receive():
            return {"type": "http.request", "body": chunks.pop(0) if chunks else b"", "more_body": bool(chunks)}

        scope = {"type": "http", "method": "PUT", "path": "/_stcore/upload_file/s/f", "query_string": b"",
                 "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]}
        form = await Request(scope, receive).form()
        upload = form["file"]
        try:
            return await upload.read()
        finally:
            await upload.close()

    return asyncio.run(parse())


def test_starlette_alone_would_spool_a_large_upload_to_a_temporary_file(monkeypatch):
    """Why ``ui.uploads`` exists: without it, a photo over 1 MB passes through a file on disk."""
    monkeypatch.setattr(MultiPartParser, "spool_max_size", 1024 * 1024)  # Starlette's default
    data = png_bytes(_photo(1, (1000, 800)))
    assert len(data) > 1024 * 1024
    watch = WriteWatch(monkeypatch)
    with pytest.raises(AssertionError, match="tempfile.TemporaryFile"):
        _parse_upload(*_multipart(data))
    assert watch.writes == ["tempfile.TemporaryFile"]


def test_an_upload_writes_no_file_from_the_socket_to_the_analysis(monkeypatch, shapes_bundle):
    monkeypatch.setattr(MultiPartParser, "spool_max_size", MultiPartParser.spool_max_size)  # restored afterwards
    uploads.keep_uploads_in_memory()
    data = png_bytes(_photo(2, (1000, 800)))
    assert len(data) > 1024 * 1024  # large enough that Starlette alone would have spooled it
    before = _listing()
    watch = WriteWatch(monkeypatch)

    received = _parse_upload(*_multipart(data))
    image = load_image(received)
    analysis = caches.analysis_of(shapes_bundle, image)

    assert received == data and analysis.image_hash == image_hash(image)
    assert watch.writes == []
    assert _listing() == before


def _context(bundle, image: Image.Image) -> Context:
    chosen = ChosenImage(image, "mine.png", "upload", image_hash(image))
    return Context(bundle.spec.key, bundle, None, chosen, caches.analysis_of(bundle, image, chosen.digest))


def test_the_shared_caches_answer_only_a_session_holding_the_same_image(shapes_bundle):
    mine, theirs = _photo(3, (320, 240)), _photo(4, (320, 240))  # same size and mode, different pixels
    me, them = _context(shapes_bundle, mine), _context(shapes_bundle, theirs)
    assert me.analysis is not them.analysis
    assert me.analysis.image_hash == image_hash(mine) and them.analysis.image_hash == image_hash(theirs)
    assert not np.array_equal(me.analysis.attentions, them.analysis.attentions)

    mine_fig = me.figure(attention_views.cls_map, 1, None, 0.5, 3)
    assert them.figure(attention_views.cls_map, 1, None, 0.5, 3) is not mine_fig  # same settings, other image
    assert me.key("shuffle", 0) != them.key("shuffle", 0)  # experiments too

    # a session holding the same pixels (its own upload of the same photo) shares the work
    again = _context(shapes_bundle, mine.copy())
    assert again.analysis is me.analysis and again.figure(attention_views.cls_map, 1, None, 0.5, 3) is mine_fig
    # every cached analysis sits under the hash of the image it was computed from
    for (_identity, digest), analysis in list(caches.ANALYSES._items.items()):
        assert analysis.image_hash == digest


def test_a_figure_of_the_model_alone_is_shared_and_never_sees_the_image(shapes_bundle):
    """Figures of the model alone (position embeddings, sizes) are built once for every image, from an analysis
    with no image in it: a view that read the image would get empty arrays."""
    me, them = _context(shapes_bundle, _photo(5, (320, 240))), _context(shapes_bundle, _photo(6, (320, 240)))
    seen = []

    def view(bundle, a, setting):
        seen.append(a)
        return positions_views.learned_similarity(bundle, a)

    mine = me.figure(view, "x", per_image=False)
    assert them.figure(view, "x", per_image=False) is mine and len(seen) == 1
    assert seen[0].image.size == seen[0].attentions.size == seen[0].patch_embeddings.size == 0
    assert seen[0].image_hash == "" and not seen[0].top_labels
    np.testing.assert_array_equal(seen[0].pos_embed, me.analysis.pos_embed)
    with pytest.raises(Exception):  # a view that reads the image cannot build a figure of the model alone
        me.figure(attention_views.cls_map, 1, None, 0.5, 3, per_image=False)
