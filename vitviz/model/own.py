"""Your own model: any timm Vision Transformer by its name (``arch.tag``), or a safetensors file of one with its
architecture's name.

A model of one's own is a ``ModelSpec`` like the zoo's (``own=True``), made here from what timm says of the name
and, for a file, from the file's own tensor shapes: the position table's rows give the patch grid and so the input
size, the patch projection's kernel the patch size, the head's rows the classes. Nothing is downloaded to find
out: the architecture is built on the meta device (shapes, no numbers), so its size is known before a download and
a model the memory budget cannot hold is refused first. Only timm's ``VisionTransformer`` (and its subclasses) with
global self-attention blocks (timm's ``Attention``) can be shown; anything else gets one sentence saying what it
lacks. Keys are unique and hashable: ``timm:<name>`` for a name, ``file:<arch>:<content hash>`` for a file.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

import timm
import torch
from timm.layers import Attention, PatchEmbed
from timm.models import get_pretrained_cfg
from timm.models.vision_transformer import VisionTransformer

from vitviz.model.file_hash import sha256
from vitviz.model.zoo import FILE_PREFIX, NAME_PREFIX, ZOO, ModelSpec, register_own

WEIGHTS_DIR_ENV = "VITVIZ_WEIGHTS_DIR"
BYTES_PER_PARAMETER = 4  # fp32, as the model is loaded


class OwnModelError(ValueError):
    """A model of one's own that cannot be shown, with the one sentence that says why."""


def _meta(arch: str, **kwargs) -> torch.nn.Module:
    """The architecture on the meta device: every shape, no numbers, nothing downloaded."""
    with torch.device("meta"):
        return timm.create_model(arch, pretrained=False, **kwargs)


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def unsupported(model: torch.nn.Module) -> str | None:
    """What ``model`` lacks that the pages need, in one sentence; None when it is a timm ``VisionTransformer``
    whose patches are cut from the image and whose every block attends globally with timm's ``Attention``."""
    kind = type(model).__name__
    if not isinstance(model, VisionTransformer):
        name = kind.lower()
        if "swin" in name:
            what = "attends within shifted local windows, so no patch attends to every other patch"
        elif "eva" in name:
            what = "puts rotary position embeddings inside its attention (EVA), which the pages do not read"
        elif not any(isinstance(m, torch.nn.MultiheadAttention) or "attn" in n.split(".")[-1]
                     for n, m in model.named_modules()):
            what = "has no attention at all: it has no tokens to show"
        else:
            what = "is not one of timm's VisionTransformer models"
        return (f"{kind} {what}; the pages need a timm VisionTransformer: patch tokens from cut-out patches, "
                "and blocks of global self-attention (timm's Attention).")
    if not isinstance(model.patch_embed, PatchEmbed):
        return (f"{kind} with a {type(model.patch_embed).__name__} makes its tokens with a convolutional stem, not "
                "from cut-out patches of the image; the pages need each token to be one patch's pixels.")
    for i, blk in enumerate(model.blocks):
        if not isinstance(getattr(blk, "attn", None), Attention):
            return (f"block {i + 1} of {kind} uses {type(getattr(blk, 'attn', blk)).__name__}, not timm's "
                    "Attention; the pages read the attention probabilities of timm's Attention.")
    return None


def mb(params: int) -> float:
    return params * BYTES_PER_PARAMETER / 1e6


def size_sentence(spec: ModelSpec) -> str:
    """What loading ``spec`` costs, said before it is loaded."""
    fetched = "read from your file" if spec.weights_file else "downloaded (fp32), unless already on this computer"
    return (f"{spec.params / 1e6:.1f} M parameters: {mb(spec.params):,.0f} MB {fetched}; "
            f"{spec.resolution}×{spec.resolution} px in {spec.patch_size}-px patches, "
            f"{spec.tokens} tokens.")


def check_budget(spec: ModelSpec, budget_bytes: int | None) -> None:
    """Refuse a model whose fp32 weights alone exceed the memory budget for models (``VITVIZ_MODEL_CACHE_MB``)."""
    need = spec.params * BYTES_PER_PARAMETER
    if budget_bytes is not None and need > budget_bytes:
        raise OwnModelError(f"{spec.title} needs {need / 1e6:,.0f} MB for its weights alone, more than the "
                            f"{budget_bytes / 2**20:,.0f} MB this server holds for models (VITVIZ_MODEL_CACHE_MB): "
                            "it is not loaded.")


def _unknown_name(arch: str) -> OwnModelError:
    close = difflib.get_close_matches(arch, timm.list_models(), n=3, cutoff=0.75)
    hint = f" Did you mean {', '.join(close)}?" if close else " `timm.list_models('vit_*')` lists its ViTs."
    return OwnModelError(f"timm has no model called “{arch}”.{hint}")


def spec_for_name(name: str, budget_bytes: int | None = None) -> ModelSpec:
    """The spec of timm's ``name`` (``arch.tag``; without a tag, timm's default one) with the published weights of
    that tag, at the input size of those weights. Raises ``OwnModelError`` with a sentence: a name timm does not
    know, a tag it has no weights for, an architecture the pages cannot show, a model over ``budget_bytes``."""
    name = name.strip()
    arch, _, tag = name.partition(".")
    if not arch or not timm.is_model(arch):
        raise _unknown_name(arch or name)
    tags = [n.partition(".")[2] for n in timm.list_pretrained(f"{arch}.*")]
    if tag and tag not in tags:
        known = ", ".join(tags[:6]) + (" …" if len(tags) > 6 else "")
        raise OwnModelError(f"timm has no published weights “{tag}” for {arch}"
                            + (f"; it has: {known}." if tags else "; it has none."))
    if not tags:
        raise OwnModelError(f"timm has no published weights for {arch}; bring a .safetensors file of it instead.")
    cfg = get_pretrained_cfg(f"{arch}.{tag}" if tag else arch)
    tag = tag or cfg.tag
    name = f"{arch}.{tag}"
    zoo = next((z for z in ZOO if z.timm_name == name and not z.bundled), None)
    if zoo is not None and zoo.resolution == cfg.input_size[-1]:  # the zoo's own model: one identity, its note
        check_budget(zoo, budget_bytes)
        return zoo
    model = _meta(name)  # the tag's own config: its classes (a CLIP tower's 512-number projection), its size
    why = unsupported(model)
    if why:
        raise OwnModelError(f"{name} cannot be shown: {why}")
    if not cfg.hf_hub_id:
        raise OwnModelError(f"the weights {name} are not on the Hugging Face hub, the only place vitviz fetches "
                            "weights from (as safetensors): bring them as a .safetensors file instead.")
    from vitviz.model.loading import labels_of  # loading imports the zoo; the zoo imports this module lazily

    spec = ModelSpec(
        key=f"{NAME_PREFIX}{name}", title=name, timm_name=name, patch_size=int(model.patch_embed.patch_size[0]),
        resolution=int(model.patch_embed.img_size[0]), params=parameters(model),
        note=(f"The published checkpoint {name} (timm's pretrained tag “{tag}”); vitviz has no note of its own on "
              f"how it was trained: its model card is at huggingface.co/{cfg.hf_hub_id}."),
        labels=labels_of(cfg), prefix_tokens=int(model.num_prefix_tokens), repo=cfg.hf_hub_id, own=True)
    check_budget(spec, budget_bytes)
    return register_own(spec)


def header(path: Path) -> dict[str, list[int]]:
    """Tensor name -> shape, from a safetensors file's JSON header (the 8 bytes before it give its length)."""
    with open(path, "rb") as f:
        length = int.from_bytes(f.read(8), "little")
        if not 0 < length < 100 * 2**20:
            raise OwnModelError(f"{path.name} is not a safetensors file (its header cannot be read).")
        try:
            meta = json.loads(f.read(length))
        except ValueError:
            raise OwnModelError(f"{path.name} is not a safetensors file (its header cannot be read).") from None
    return {k: list(v["shape"]) for k, v in meta.items() if k != "__metadata__" and isinstance(v, dict)}


def digest(path: Path) -> str:
    """A short content hash of a weights file: part of its model's key (read once per process: ``file_hash``)."""
    return sha256(path)[:16]


def file_shapes(shapes: dict[str, list[int]], model: torch.nn.Module, name: str) -> dict:
    """The timm arguments a file's own tensors decide: patch size, input size (position rows → grid → pixels) and
    classes. Raises ``OwnModelError`` when the file is not a timm ViT's state dict."""
    proj, pos = shapes.get("patch_embed.proj.weight"), shapes.get("pos_embed")
    if proj is None or len(proj) != 4 or pos is None or len(pos) != 3:
        raise OwnModelError(f"{name} has no tensors named as timm names a ViT's (patch_embed.proj.weight, "
                            "pos_embed): save the model's state_dict() from timm.")
    patch = int(proj[-1])
    prefix = ("cls_token" in shapes) + ("dist_token" in shapes) + (shapes.get("reg_token", [0, 0])[1])
    rows = pos[1] - (0 if model.no_embed_class else prefix)
    side = math.isqrt(max(rows, 0))
    if side * side != rows or side == 0:
        raise OwnModelError(f"{name}'s position table has {pos[1]} rows: not a square grid of patches "
                            f"(after {prefix} prefix tokens), so its input size cannot be read.")
    kwargs: dict = dict(img_size=side * patch, patch_size=patch, in_chans=int(proj[1]))
    depth = len({k.split(".")[1] for k in shapes if k.startswith("blocks.") and k.split(".")[1].isdigit()})
    if depth and depth != len(model.blocks):
        kwargs["depth"] = depth  # a file of fewer (or more) blocks than the architecture's default
    width = int(proj[0])
    if width != model.embed_dim:
        kwargs["embed_dim"] = width  # the heads stay the architecture's: a file does not say how many it has
    fc1 = shapes.get("blocks.0.mlp.fc1.weight")
    if fc1 is not None and fc1[0] != model.blocks[0].mlp.fc1.out_features * width // model.embed_dim:
        kwargs["mlp_ratio"] = fc1[0] / width
    head = shapes.get("head.weight")
    kwargs["num_classes"] = int(head[0]) if head is not None else 0
    if "reg_token" in shapes:
        kwargs["reg_tokens"] = int(shapes["reg_token"][1])
    return kwargs


def spec_for_file(path: str | Path, arch: str, budget_bytes: int | None = None, shown_name: str | None = None) -> ModelSpec:
    """The spec of the safetensors file ``path`` holding the weights of timm's architecture ``arch`` (a name
    without a tag: the file brings the weights). The file's shapes decide its patch size, input size and classes.
    Raises ``OwnModelError`` with a sentence when the file or the architecture does not fit."""
    path = Path(path)
    shown = shown_name or path.name
    if path.suffix != ".safetensors":
        raise OwnModelError(f"{shown}: only .safetensors weight files are loaded (no pickle files).")
    if not path.is_file():
        raise OwnModelError(f"{shown}: no such file.")
    arch = arch.strip().partition(".")[0]
    if not arch or not timm.is_model(arch):
        raise _unknown_name(arch)
    why = unsupported(_meta(arch))
    if why:
        raise OwnModelError(f"{arch} cannot be shown: {why}")
    shapes = header(path)
    kwargs = file_shapes(shapes, _meta(arch), shown)
    try:
        model = _meta(arch, **kwargs)
    except Exception as exc:  # an argument the architecture refuses
        raise OwnModelError(f"{arch} cannot be built with {shown}'s shapes ({exc}).") from None
    expected = {k: list(v.shape) for k, v in model.state_dict().items()}
    missing = [k for k in expected if k not in shapes]
    wrong = [k for k in expected if k in shapes and shapes[k] != expected[k]]
    if missing or wrong:
        first = missing[0] if missing else f"{wrong[0]} is {shapes[wrong[0]]}, {arch} needs {expected[wrong[0]]}"
        raise OwnModelError(f"{shown} does not hold the weights of {arch}: {len(missing)} tensors missing, "
                            f"{len(wrong)} of another shape (first: {first}).")
    from vitviz.model.loading import labels_of

    classes = kwargs["num_classes"]
    published = labels_of(get_pretrained_cfg(arch)) if timm.list_pretrained(f"{arch}.*") else "none"
    same_head = classes and published != "none" and classes == get_pretrained_cfg(arch).num_classes
    spec = ModelSpec(
        key=f"{FILE_PREFIX}{arch}:{digest(path)}", title=shown, timm_name=arch, patch_size=kwargs["patch_size"],
        resolution=kwargs["img_size"], params=parameters(model),
        note=("Your own file: how it was trained is unknown to vitviz"
              + (f"; its {classes:,} outputs are named as {published}'s classes, the published head of {arch} having "
                 "as many" if same_head else (f"; its {classes:,} outputs are numbered, their names unknown"
                                                if classes else "; it has no classifier")) + "."),
        labels=published if same_head else ("numbered" if classes else "none"),
        prefix_tokens=int(model.num_prefix_tokens), build=tuple(sorted(kwargs.items())),
        weights_file=str(path), own=True)
    check_budget(spec, budget_bytes)
    return register_own(spec)


_UPLOADS = Path(tempfile.gettempdir()) / f"vitviz-weights-{os.getpid()}"


def keep_upload(data: bytes, name: str) -> Path:
    """An uploaded weights file, kept as ``<tmp>/vitviz-weights-<pid>/<content hash>/<name>`` (the loader reads
    files; its own name stays what the visitor sees). The same content is written once."""
    folder = _UPLOADS / hashlib.sha256(data).hexdigest()[:16]
    path = folder / Path(name).name
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def weights_dir_files() -> list[Path]:
    """The .safetensors files in ``$VITVIZ_WEIGHTS_DIR`` (none when it is not set)."""
    folder = os.environ.get(WEIGHTS_DIR_ENV)
    if not folder or not Path(folder).is_dir():
        return []
    return sorted(p for p in Path(folder).iterdir() if p.suffix == ".safetensors" and p.is_file())
