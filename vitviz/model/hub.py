"""Reaching the Hugging Face hub without hanging: a short probe first, then a download with progress.

huggingface_hub retries for ~50 s on a dead DNS and up to ~13 min on a server that never
answers. We ask one small question with a hard deadline first; if the hub does not answer, the
caller falls back at once. The failure is remembered for ``RETRY_AFTER_S`` seconds: during that
window every download fails at once with the same reason (no 4 s wait per model), after it the
next download probes again, so a network that comes back is used without restarting the server.
``forget_failure()`` ends the window early. ``HF_HUB_OFFLINE=1`` in the environment always wins.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import huggingface_hub
from huggingface_hub import constants
from tqdm.auto import tqdm

PROBE_TIMEOUT_S = 4.0
RETRY_AFTER_S = 60.0  # after a failed probe, downloads fail at once for this long, then probe again
WEIGHTS_FILENAME = "model.safetensors"
Progress = Callable[[int, int], None]  # (bytes done, bytes total)


class HubUnavailable(RuntimeError):
    """The hub could not be reached (offline mode, refused, silent or failed download)."""


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", constants.ENDPOINT).rstrip("/")


def hub_offline() -> bool:
    """Offline mode asked for by the person running vitviz (``HF_HUB_OFFLINE``); never set by vitviz."""
    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def probe(repo_id: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Return None if the hub answers for ``repo_id`` within ``timeout`` s, else why not (a sentence).

    The request runs in a daemon thread so that even a DNS lookup cannot hold us past the deadline.
    """
    url = f"{endpoint()}/api/models/{repo_id}"
    result: list[str | None] = []

    def ask() -> None:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout) as resp:
                resp.read(1)
            result.append(None)
        except urllib.error.HTTPError as exc:  # the hub answered: it is reachable
            result.append(None if exc.code < 500 else f"the model hub answered with error {exc.code}")
        except Exception as exc:  # refused, reset, DNS failure, timeout
            result.append(f"the model hub could not be reached ({unreachable_why(getattr(exc, 'reason', exc), url)})")

    t = threading.Thread(target=ask, daemon=True)
    t.start()
    t.join(timeout + 0.5)
    return result[0] if result else "the model hub did not answer in time"


def unreachable_why(error: BaseException | str, url: str) -> str:
    """Why a connection to ``url`` failed, in words (never the bare exception name: "gaierror" tells a teacher
    nothing)."""
    host = urllib.parse.urlsplit(url).hostname or url
    if isinstance(error, socket.gaierror):  # getaddrinfo: the name lookup (DNS) itself failed
        return f"no network: the name {host} could not be looked up"
    if isinstance(error, ConnectionRefusedError):
        return f"{host} refused the connection"
    if isinstance(error, (TimeoutError, socket.timeout)):
        return f"{host} did not answer in time"
    if isinstance(error, ssl.SSLError):
        return f"the secure connection to {host} failed"
    if isinstance(error, (ConnectionResetError, ConnectionAbortedError)):
        return f"the connection to {host} was cut"
    return f"no connection to {host}"


def _progress_tqdm(callback: Progress) -> type[tqdm]:
    """A tqdm class that reports byte progress to ``callback`` (huggingface_hub's progress hook)."""

    class CallbackTqdm(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = False
            kwargs.pop("name", None)
            super().__init__(*args, **kwargs, file=open(os.devnull, "w"))  # noqa: SIM115

        def update(self, n=1):
            out = super().update(n)
            callback(int(self.n), int(self.total or 0))
            return out

    return CallbackTqdm


def cached_file(repo_id: str) -> Path | None:
    """The weights file of ``repo_id`` if it is complete in the local Hugging Face cache."""
    found = huggingface_hub.try_to_load_from_cache(repo_id, WEIGHTS_FILENAME)
    return Path(found) if isinstance(found, str) else None


@dataclass(frozen=True)
class Failure:
    """A failed probe: why, and when (``time.monotonic()``)."""

    reason: str
    at: float

    def retry_in(self) -> float:
        """Seconds until the next download probes again (0: it will)."""
        return max(0.0, self.at + RETRY_AFTER_S - time.monotonic())


_failure: Failure | None = None
_lock = threading.Lock()  # one probe at a time: a second caller waits for the first one's answer


def recent_failure() -> Failure | None:
    """The remembered failed probe while its window lasts, else None."""
    failed = _failure
    return failed if failed is not None and failed.retry_in() > 0 else None


def forget_failure(older_than: float | None = None) -> None:
    """Forget the remembered failure so that the next download probes at once.

    With ``older_than`` (a ``time.monotonic()`` value), only a failure recorded at or before it is
    forgotten: a probe that failed since then is still news.
    """
    global _failure
    with _lock:
        if _failure is not None and (older_than is None or _failure.at <= older_than):
            _failure = None


def download(repo_id: str, progress: Progress | None = None, force: bool = False) -> Path:
    """Download the weights of ``repo_id`` (probing first); raises HubUnavailable with a reason.

    ``force`` downloads again even if the cache holds a file (used when the cached file is damaged).
    """
    global _failure
    if hub_offline():
        raise HubUnavailable("offline mode is on (HF_HUB_OFFLINE)")
    with _lock:
        failed = recent_failure()
        if failed is not None:
            raise HubUnavailable(failed.reason)
        reason = probe(repo_id)
        if reason:
            _failure = Failure(reason, time.monotonic())
            raise HubUnavailable(reason)
    try:
        path = huggingface_hub.hf_hub_download(
            repo_id, WEIGHTS_FILENAME, endpoint=endpoint(), etag_timeout=PROBE_TIMEOUT_S, force_download=force,
            tqdm_class=_progress_tqdm(progress) if progress else None)
    except Exception as exc:  # network drop mid-file, 404, disk full...
        raise HubUnavailable(f"the download from the model hub failed ({type(exc).__name__})") from exc
    return Path(path)
