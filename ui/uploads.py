"""Uploads stay in memory: Streamlit keeps uploaded files in its in-memory file manager, but the web
server in front of it (Starlette) parses an upload's multipart body into a ``SpooledTemporaryFile``
that rolls over to a temporary file on disk above 1 MB. Raising that threshold to the largest upload
Streamlit accepts keeps every upload in RAM from the socket to the decoder, so the home page's
privacy sentence holds for large photos too.
"""

from __future__ import annotations

from starlette.formparsers import MultiPartParser

from vitviz.inputs.decode import MAX_BYTES

SPOOL_BYTES = MAX_BYTES + 2**20  # the largest accepted upload plus its multipart framing


def keep_uploads_in_memory() -> None:
    """Make Starlette hold multipart uploads up to ``SPOOL_BYTES`` in memory (idempotent, process-wide)."""
    if MultiPartParser.spool_max_size < SPOOL_BYTES:
        MultiPartParser.spool_max_size = SPOOL_BYTES
