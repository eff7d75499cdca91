"""The process-wide store of loaded models: each model once, bounded in bytes, and honest fallbacks.

Models are cached by ``ModelIdentity`` (the model actually loaded, device, precision), never by the
key that was asked for: when a hub model's weights are unreachable, ``get`` returns a view of the
ONE cached bundled model (same ``nn.Module``, same call counter), so asking for "vit_s16" offline
and then for "shapes" holds one model, not two.

A fallback is remembered per requested key with its reason and time; ``RETRY_AFTER_S`` seconds later
the next ``get`` tries again, so a network that comes back is used without restarting the server.
``retry_now()`` forgets every fallback (and the hub's remembered failure) for an immediate try.
A model in another number format (``precision``) is a converted copy of the fp32 one, cached under its
own identity and counted in the same byte budget; a fallback in that format is a view of the converted
bundled model.
No Streamlit here: the app keeps one store as module state (``ui/caches.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
import threading
import time
from dataclasses import dataclass

import torch

from vitviz.cache import BoundedCache
from vitviz.model import hub
from vitviz.model.loading import Bundle, ModelIdentity, choose_device, load_model
from vitviz.model.precision import stored_bytes, to_precision
from vitviz.model.zoo import OFFLINE_KEY, get_spec

RETRY_AFTER_S = 60.0  # a fallback stands this long; then the next get tries the real weights again


def model_bytes(bundle: Bundle) -> int:
    """Bytes of the model's parameters and buffers as stored (what the store's bound counts; a quantised
    copy counts its codes and scales)."""
    return stored_bytes(bundle.model).total


@dataclass(frozen=True)
class FallbackState:
    """Why a requested model is shown by the bundled one, and when the real one is tried again."""

    reason: str  # one sentence, the same as the view's ``fallback_reason``
    since_s: float  # seconds since the failed attempt
    retry_in_s: float  # seconds until the next ``get`` tries again (0: the next one does)


@dataclass
class _Fallback:
    reason: str
    at: float  # time.monotonic() of the failed attempt
    view: Bundle  # the offline bundle standing in for the requested key

    def due(self) -> bool:
        return time.monotonic() - self.at >= RETRY_AFTER_S


class ModelStore:
    """Loaded models keyed by identity, least recently used out first beyond ``max_bytes`` of parameters.

    ``device`` is where ``get`` loads models (default: CUDA when available, else CPU).
    """

    def __init__(self, max_bytes: int, device: torch.device | str | None = None) -> None:
        self.device = torch.device(device) if device is not None else choose_device()
        self._cache: BoundedCache[Bundle] = BoundedCache(max_bytes, model_bytes)
        self._lock = threading.Lock()  # guards the dicts below
        self._key_locks: dict[str, threading.Lock] = {}  # one load at a time per requested key
        self._loaded: dict[str, ModelIdentity] = {}  # requested key -> identity of its real bundle
        self._fallbacks: dict[str, _Fallback] = {}  # requested key -> its current fallback

    def __len__(self) -> int:
        return len(self._cache)

    @property
    def nbytes(self) -> int:
        return self._cache.nbytes

    @property
    def max_bytes(self) -> int:
        """The bound on the bytes of the models held (a model whose weights alone exceed it is refused)."""
        return self._cache.max_bytes

    def models(self) -> list[Bundle]:
        """The distinct bundles held (fallback views are not extra models), least recently used first."""
        return self._cache.values()

    def _identity(self, key: str) -> ModelIdentity:
        with self._lock:
            return self._loaded.get(key) or ModelIdentity(key, str(self.device))

    def peek(self, key: str, precision: str = "fp32") -> Bundle | None:
        """What ``get(key, precision=precision)`` would return, if it would not load, convert or retry anything."""
        base = self._peek_fp32(key)
        if base is None or precision == "fp32":
            return base
        hit = self._cache.get(replace(base.identity, precision=precision))
        return None if hit is None else self._as_view_of(base, hit)

    def _peek_fp32(self, key: str) -> Bundle | None:
        with self._lock:
            fb = self._fallbacks.get(key)
        if fb is None:
            return self._cache.get(self._identity(key))
        if fb.due():
            return None
        offline = self._cache.get(self._identity(OFFLINE_KEY))
        return self._view(key, fb, offline) if offline is not None else None

    def get(self, key: str, progress: hub.Progress | None = None, precision: str = "fp32") -> Bundle:
        """The bundle for the zoo key ``key`` in the number format ``precision``, loaded (and converted)
        once, also under concurrent calls.

        When its weights are unreachable or damaged, a view of the one cached offline bundle, with
        ``requested`` and ``fallback_reason`` set; after ``RETRY_AFTER_S`` the next call tries again.
        Raises ValueError for a precision that cannot run here (``precision.unavailable`` says why).
        """
        base = self._get_fp32(key, progress)
        if precision == "fp32":
            return base
        real = replace(base, requested=None, fallback_reason=None)  # the loaded fp32 model itself, not a view
        converted = self._cache.get_or_compute(replace(real.identity, precision=precision),
                                               lambda: to_precision(real, precision))
        return self._as_view_of(base, converted)

    @staticmethod
    def _as_view_of(base: Bundle, converted: Bundle) -> Bundle:
        """``converted``, or a fallback view of it when ``base`` is one."""
        if not base.fell_back:
            return converted
        return replace(converted, requested=base.requested, fallback_reason=base.fallback_reason)

    def _get_fp32(self, key: str, progress: hub.Progress | None) -> Bundle:
        hit = self._peek_fp32(key)
        if hit is not None:
            return hit
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            hit = self._peek_fp32(key)
            if hit is not None:
                return hit
            with self._lock:
                fb = self._fallbacks.get(key)
            if fb is not None and fb.due():  # the window is over: a probe that failed before it may run again
                hub.forget_failure(older_than=fb.at)
            elif fb is not None:  # within the window, the offline bundle was evicted: load it again
                return self._view(key, fb, self.get(OFFLINE_KEY))
            spec = get_spec(key)
            bundle = load_model(spec, device=self.device, progress=progress,
                                offline=None if spec.bundled else lambda: self.get(OFFLINE_KEY))
            with self._lock:
                if bundle.fell_back:
                    self._fallbacks[key] = _Fallback(bundle.fallback_reason or "", time.monotonic(), bundle)
                    return bundle
            self.put(bundle)
            return bundle

    def put(self, bundle: Bundle) -> None:
        """Hold a ready bundle: ``get(bundle.spec.key)`` returns it from now on (tests put random-weight models)."""
        if bundle.fell_back:
            raise ValueError("put a loaded model, not a fallback view; get() makes those")
        self._cache.put(bundle.identity, bundle)
        with self._lock:
            self._loaded[bundle.spec.key] = bundle.identity
            self._fallbacks.pop(bundle.spec.key, None)

    def fallback_state(self, key: str) -> FallbackState | None:
        """Why ``key`` is shown by the offline model and when it is tried again; None if it did not fall back."""
        with self._lock:
            fb = self._fallbacks.get(key)
        if fb is None:
            return None
        since = time.monotonic() - fb.at
        return FallbackState(fb.reason, since, max(0.0, RETRY_AFTER_S - since))

    def retry_now(self) -> None:
        """Forget every fallback and the hub's remembered failure: the next ``get`` of each key tries at once."""
        with self._lock:
            self._fallbacks.clear()
        hub.forget_failure()

    def _view(self, key: str, fb: _Fallback, offline: Bundle) -> Bundle:
        """The fallback view of ``key`` on ``offline`` (made again if the offline bundle was reloaded)."""
        with self._lock:
            if fb.view.model is not offline.model:
                fb.view = dataclasses.replace(offline, requested=fb.view.requested, fallback_reason=fb.reason)
            return fb.view
