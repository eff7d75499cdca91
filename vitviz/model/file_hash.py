"""A file's SHA-256, read once per process for each (path, size, modification time): weights files are large, and
the same file is named again on every command and every rerun that asks what it is."""

from __future__ import annotations

import hashlib
from pathlib import Path

_HASHES: dict[tuple[str, int, int], str] = {}


def sha256(path: Path) -> str:
    """The file's SHA-256 (hex), computed once per (path, size, modification time)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        with open(path, "rb") as f:
            _HASHES[key] = hashlib.file_digest(f, "sha256").hexdigest()
    return _HASHES[key]
