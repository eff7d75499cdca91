"""The numbers of an analysis as a download: a compressed NPZ with a JSON summary inside."""

from __future__ import annotations

import io
import json

import numpy as np

from vitviz.model.analysis import Analysis


def summary(analysis: Analysis, model_title: str = "") -> dict:
    """Small, human-readable facts about the analysis (also stored in the NPZ as ``summary.json``)."""
    return {
        "model": model_title or analysis.model_key,
        "model_key": analysis.model_key,
        "image_hash": analysis.image_hash,
        "input_size": list(analysis.image.shape[:2]),
        "patch_size": analysis.patch_size,
        "grid": list(analysis.grid),
        "tokens": analysis.num_tokens,
        "layers": analysis.depth,
        "heads": analysis.heads,
        "embed_dim": analysis.embed_dim,
        "input_channels": list(analysis.input_channels),
        "top5": [{"label": label, "index": i, "probability": p}
                 for label, i, p in zip(analysis.top_labels, analysis.top_indices, analysis.top_probs)],
        "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in _arrays(analysis).items()},
    }


def _arrays(analysis: Analysis) -> dict[str, np.ndarray]:
    """The analysis's arrays by name; ``embed_input`` only where it differs from ``pixels`` (extra channels)."""
    return {k: v for k, v in vars(analysis).items()
            if isinstance(v, np.ndarray) and not (k == "embed_input" and v is analysis.pixels)}


def to_npz(analysis: Analysis, model_title: str = "") -> bytes:
    """Every array of the analysis (``np.load`` reads it back) plus ``summary.json``."""
    arrays = _arrays(analysis)
    meta = np.frombuffer(json.dumps(summary(analysis, model_title), indent=1).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays, summary_json=meta)
    return buf.getvalue()
