"""A whole class at once: simulated learners walk the app through the real server, speaking Streamlit's
own websocket protocol (``/_stcore/stream``, protobuf BackMsg/ForwardMsg), with no browser.

Each learner loads the home page, uploads its own image (or picks a sample), opens every stage page
in order, moves the Attention page's layer slider there (a fragment rerun, as the browser sends it) and
finally opens the Attention page again, thinking about 1 s between steps. It keeps the
client side of Streamlit's message cache as a browser does (cached message hashes go back with each
rerun, so a repeated large element costs a reference) and fetches the media files (``st.image``)
a page refers to.

One run: start the server (or the proxied set, ``--proxied P``, via ``deploy/serve.sh``), warm it up
(model loaded, one analysis), then 1 learner alone, then N learners together (each with an image no
one else has). It prints per step p50/p95/max of the time to the script's end and of the time to the
first visible change, errors learners saw, model forward passes, bytes per page view, server CPU per
learner, cores used and peak RSS, with the class/alone ratio. Bounded: at most 200 learners, every
step times out, the whole run stops at ``--deadline``; it talks only to 127.0.0.1.

Class mode (``--class``): one teacher (presenter mode, "Start a class", a sample) and N followers who open the
join link. The teacher walks home → the sample → every stage page → Attention again → a block and head shown to
everyone, waiting at each step until every follower's page has finished; the followers answer Streamlit's
``auto_rerun`` messages (the class check, ``st.fragment(run_every=…)``) as the browser does. Per teacher step: the
followers' p50/p95/max from the teacher's click to their page finished and to their first visible element, errors
(a follower on another page than the teacher's, or with another number of charts), forward passes, server CPU per
follower step; then the server's CPU with the teacher alone and with N idle followers. The last line, for scripts:
``class mode: N followers, teacher-step p95 X s, first change p95 Y s, errors E, forward passes F``.

Random weights: a random timm state_dict of ``--model`` is written with safetensors to a temporary
folder given to the server as ``VITVIZ_WEIGHTS_DIR`` (the bundled ``shapes`` model needs none).
Forward passes are counted by a ``sitecustomize`` module put on the server's ``PYTHONPATH`` for this
run only: a global torch forward hook that writes one line per call of a whole model (a module with
``patch_embed`` and ``blocks``) on pixels.

    python benchmarks/classroom_load.py --learners 3            # while developing
    python benchmarks/classroom_load.py                         # 30 learners, ViT-S/16
    python benchmarks/classroom_load.py --model shapes          # the bundled model
    python benchmarks/classroom_load.py --proxied 2             # nginx + 2 app processes (deploy/serve.sh)
    python benchmarks/classroom_load.py --class --model shapes  # 1 teacher leads 30 followers
    python benchmarks/classroom_load.py --url http://127.0.0.1:8080 --pids 123,456   # a set already running
    python benchmarks/classroom_load.py --against /tmp/vitviz_main   # before (a worktree of main) and after, one run

``--against OTHER`` runs the same benchmark against a server started from another checkout first, then against
this one's, and prints the headline numbers side by side with the ratio this/other. ``VITVIZ_BENCH_PORTS``
(``first-last``) sets the ports it may use.
"""

from __future__ import annotations

import argparse
import asyncio
import http.cookiejar
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from collections.abc import Callable
from pathlib import Path

import psutil
import websockets
from PIL import Image, ImageEnhance, ImageOps

ROOT = Path(__file__).resolve().parents[1]
REVISIT = "attention again"  # the last step: a page seen before (what the browser's message cache saves)
sys.path.insert(0, str(ROOT))

from vitviz.inputs.samples import PHOTOS  # noqa: E402
from vitviz.walkthrough import STAGES  # noqa: E402

from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ClientState_pb2 import ClientState  # noqa: E402
from streamlit.proto.Common_pb2 import FileURLsRequest, FileUploaderState, UploadedFileInfo  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.proto.Common_pb2 import DoubleArray  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates  # noqa: E402

_PORTS = os.environ.get("VITVIZ_BENCH_PORTS", "8700-8799").split("-")  # this project's benchmark ports (first-last)
PORTS = range(int(_PORTS[0]), int(_PORTS[-1]) + 1)
MAX_LEARNERS = 200
COUNT_ENV = "VITVIZ_BENCH_FORWARDS"
SITECUSTOMIZE = f'''"""Written by benchmarks/classroom_load.py for one run: counts whole-model forward passes (with the
vitviz function that asked for each), and notes what the process held at its peak resident memory."""
import os
_path = os.environ.get("{COUNT_ENV}")
if _path:
    import ctypes, json, sys, threading, time, traceback
    import torch

    def _count(module, args, output):
        if hasattr(module, "patch_embed") and hasattr(module, "blocks"):
            asked = [f.name for f in traceback.extract_stack(limit=40) if "/vitviz/" in f.filename]
            with open(_path, "a") as f:
                f.write(type(module).__name__ + " " + "<".join(reversed(asked[-3:])) + "\\n")

    torch.nn.modules.module.register_module_forward_hook(_count)

    class _Mallinfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                   "fsmblks", "uordblks", "fordblks", "keepcost")]

    def _held() -> dict:
        """MB the caches hold, and what glibc's malloc has in use against what it keeps."""
        out = {{}}
        caches = sys.modules.get("ui.caches")
        if caches is not None:
            for name in ("ANALYSES", "BUILT", "EXPERIMENTS"):
                out[name.lower() + "_mb"] = round(getattr(caches, name).nbytes / 2**20, 1)
            out["models_mb"] = round(caches.MODELS.nbytes / 2**20, 1)
        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.mallinfo2.restype = _Mallinfo2
            m = libc.mallinfo2()
            out["malloc_in_use_mb"] = round((m.uordblks + m.hblkhd) / 2**20, 1)
            out["malloc_free_kept_mb"] = round(m.fordblks / 2**20, 1)
        except (OSError, AttributeError):
            pass
        out["threads"] = threading.active_count()
        return out

    def _watch() -> None:
        peak = 0
        while True:
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            if rss > peak + 16 * 2**20:
                peak = rss
                try:
                    note = {{"rss_mb": round(rss / 2**20), **_held()}}
                except Exception as e:  # a cache being resized: try at the next peak
                    note = {{"rss_mb": round(rss / 2**20), "error": repr(e)}}
                with open(_path + f".peak.{{os.getpid()}}", "w") as f:
                    json.dump(note, f)
            time.sleep(0.5)

    threading.Thread(target=_watch, name="peak-memory-note", daemon=True).start()
'''


# --- the server side ---------------------------------------------------------------------------------

def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def write_random_weights(key: str, folder: Path) -> None:
    """A random state_dict of the zoo model ``key`` as ``folder/<key>.safetensors`` (the bundled model needs none)."""
    import timm
    import torch
    from safetensors.torch import save_file

    from vitviz.model.zoo import get_spec

    spec = get_spec(key)
    if spec.bundled:
        return
    torch.manual_seed(0)
    model = timm.create_model(spec.timm_name, pretrained=False)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / f"{key}.safetensors"))


def wait_healthy(url: str, proc: subprocess.Popen | None, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not become healthy in {seconds:.0f} s")


@dataclass
class Servers:
    """What the benchmark started (or was pointed at): the URL learners use, the app processes' PIDs, the
    URLs of each app process (for warming each up), and how to stop it all."""

    url: str
    pids: list[int]
    backends: list[str]
    procs: list[subprocess.Popen] = field(default_factory=list)
    log: Path | None = None

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # its own PID: exec'd streamlit, or serve.sh
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def server_env(work: Path, model: str) -> dict[str, str]:
    hook = work / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    weights = work / "weights"
    weights.mkdir(exist_ok=True)
    write_random_weights(model, weights)
    return {**os.environ, "HF_HUB_OFFLINE": "1", "VITVIZ_THREADS": "1", "VITVIZ_WEIGHTS_DIR": str(weights),
            "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            COUNT_ENV: str(work / "forwards.log")}


def start_single(work: Path, model: str, root: Path = ROOT) -> Servers:
    port = free_port()
    env = server_env(work, model)
    log = work / "server.log"
    cmd = (f"exec {sys.executable} -m streamlit run streamlit_app.py --server.port {port} "
           f"--server.address 127.0.0.1 --server.headless true --browser.gatherUsageStats false "
           f"--server.fileWatcherType none")
    proc = subprocess.Popen(cmd, shell=True, cwd=root, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    servers = Servers(url, [proc.pid], [url], [proc], log)
    try:
        wait_healthy(url, proc)
    except BaseException:
        servers.stop()
        raise
    return servers


def start_proxied(work: Path, model: str, processes: int, root: Path = ROOT) -> Servers:
    """``deploy/serve.sh``: P app processes and nginx in front; PIDs and ports from its run folder."""
    port = free_port()
    env = server_env(work, model)
    run_dir = work / "run"
    env.update(VITVIZ_RUN_DIR=str(run_dir), VITVIZ_PORT_BASE=str(port + 1), PYTHON=sys.executable)
    log = work / "server.log"
    proc = subprocess.Popen(["bash", str(root / "deploy" / "serve.sh"), str(processes), str(port)], cwd=root, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    servers = Servers(url, [], [], [proc], log)
    try:
        wait_healthy(url, proc)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            apps = (run_dir / "apps").read_text().split() if (run_dir / "apps").exists() else []
            if len(apps) == 2 * processes:
                break
            time.sleep(0.3)
        pairs = list(zip(apps[::2], apps[1::2]))  # pid port, one line per app process
        servers.pids = [int(pid) for pid, _ in pairs]
        servers.backends = [f"http://127.0.0.1:{p}" for _, p in pairs]
        for b in servers.backends:
            wait_healthy(b, None)
    except BaseException:
        servers.stop()
        raise
    return servers


class Monitor:
    """CPU seconds and peak RSS of the app processes, sampled in a thread."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = [psutil.Process(p) for p in pids]
        self.peak_rss = 0  # the largest sum over processes
        self.peak_each = 0  # the largest single process
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def cpu(self) -> float:
        total = 0.0
        for p in self.procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            rss = []
            for p in self.procs:
                try:
                    rss.append(p.memory_info().rss)
                except psutil.Error:
                    pass
            if rss:
                self.peak_rss = max(self.peak_rss, sum(rss))
                self.peak_each = max(self.peak_each, max(rss))

    def __enter__(self) -> Monitor:
        if self.procs:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()


def forward_count(work: Path) -> int:
    path = work / "forwards.log"
    return len(path.read_text().splitlines()) if path.exists() else 0


# --- a learner ---------------------------------------------------------------------------------------

def learner_image(i: int) -> tuple[str, bytes]:
    """Learner ``i``'s own photo: a sample photo, cropped, turned and tinted its own way (a JPEG no one else has)."""
    rng = random.Random(i)
    photo = PHOTOS[i % len(PHOTOS)]
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(photo.data()))).convert("RGB")
    w, h = im.size
    s = rng.uniform(0.6, 0.95)
    x0, y0 = rng.randint(0, int(w * (1 - s))), rng.randint(0, int(h * (1 - s)))
    im = im.crop((x0, y0, x0 + int(w * s), y0 + int(h * s))).rotate(rng.uniform(-15, 15), expand=False)
    im = ImageEnhance.Color(im).enhance(rng.uniform(0.6, 1.4))
    if rng.random() < 0.5:
        im = ImageOps.mirror(im)
    im.thumbnail((512, 512))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return f"learner_{i:03d}.jpg", buf.getvalue()


@dataclass
class Step:
    name: str
    seconds: float = float("nan")  # request sent -> script finished
    first_delta: float = float("nan")  # request sent -> first visible element
    ws_bytes: int = 0  # websocket payload received for this step
    media_bytes: int = 0  # media files (st.image) fetched for it
    forwards: int = 0  # whole-model forward passes during it (counted when the learner is alone)
    cpu: float = float("nan")  # server CPU seconds during it (measured when the learner is alone)
    messages: int = 0  # ForwardMsgs received for it (elements, blocks, the run's own messages)
    runs: int = 0  # script runs it took (script_finished messages, a run cut short for a rerun not counted)
    errors: list[str] = field(default_factory=list)


class Learner:
    """One simulated browser tab."""

    def __init__(self, base: str, index: int, think_s: float, step_timeout: float, source: str,
                 model: str | None, jar: http.cookiejar.CookieJar | None = None) -> None:
        """``jar``: the cookies of a browser seen before (this tab is a new one of it: behind nginx, its process)."""
        self.base = base
        self.index = index
        self.think_s = think_s
        self.step_timeout = step_timeout
        self.source = source
        self.model = model
        self.rng = random.Random(1000 + index)
        self.steps: list[Step] = []
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        self.http = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.session_id = ""
        self.pages: dict[str, str] = {}  # url path -> page_script_hash
        self.widgets: dict[str, object] = {}  # user key -> last element proto seen (its id, bounds)
        self.fragments: dict[str, str] = {}  # user key -> the fragment that drew it ("" when none)
        self._fragment_run = False  # the step running now reruns one fragment, not the page
        self.cache: dict[str, tuple[int, ForwardMsg]] = {}  # message hash -> (run it was last used, message)
        self.max_age = 2
        self.run_no = 0
        self.states: dict[str, WidgetState] = {}  # what this tab sends back with every rerun
        self.page = ""  # the page on screen (url path; "" is home)
        self._step: Step | None = None
        self._t0 = 0.0
        self._finished: asyncio.Event | None = None
        self._file_urls: asyncio.Future | None = None
        self._media: list[str] = []
        self._seen_ids: set[str] = set()
        self.count_forwards: Callable[[], int] | None = None  # set when this learner is alone on the server
        self.server_cpu: Callable[[], float] | None = None  # likewise
        self._cpu0 = 0.0
        self._forwards0 = 0

    # -- transport --

    def _cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def _get(self, path: str) -> bytes:
        with self.http.open(self.base + path, timeout=self.step_timeout) as r:
            return r.read()

    async def _fetch_media(self, urls: list[str]) -> int:
        loop = asyncio.get_running_loop()
        sizes = await asyncio.gather(*(loop.run_in_executor(None, self._get, u if u.startswith("/") else "/" + u)
                                       for u in urls))
        return sum(len(s) for s in sizes)

    async def _reader(self, ws) -> None:
        async for data in ws:
            msg = ForwardMsg()
            msg.ParseFromString(data)
            self._on_message(msg, len(data))

    def _on_message(self, msg: ForwardMsg, size: int) -> None:
        kind = msg.WhichOneof("type")
        step = self._step
        if step is not None:
            step.ws_bytes += size
            step.messages += 1
        if kind == "ref_hash":
            cached = self.cache.get(msg.ref_hash)
            if cached is None:
                if step is not None:
                    step.errors.append(f"reference to an uncached message {msg.ref_hash}")
                return
            self.cache[msg.ref_hash] = (self.run_no, cached[1])
            msg, kind = cached[1], "delta"
        elif msg.metadata.cacheable and msg.hash:
            self.cache[msg.hash] = (self.run_no, msg)
        if kind == "new_session":
            init = msg.new_session.initialize
            if init.session_id:
                self.session_id = init.session_id
            self.max_age = msg.new_session.config.max_cached_message_age or self.max_age
            for p in msg.new_session.app_pages:
                self.pages[p.url_pathname] = p.page_script_hash
        elif kind == "navigation":
            for p in msg.navigation.app_pages:
                self.pages[p.url_pathname] = p.page_script_hash
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            etype = el.WhichOneof("type")
            if step is not None and step.first_delta != step.first_delta and etype not in ("empty", "skeleton"):
                step.first_delta = time.perf_counter() - self._t0
            if etype == "exception" and step is not None:
                step.errors.append(f"exception: {el.exception.type}: {el.exception.message[:200]}")
            elif etype == "alert" and el.alert.format == 1 and step is not None:  # st.error
                step.errors.append(f"error box: {el.alert.body[:200]}")
            elif etype == "imgs":
                self._media += [i.url for i in el.imgs.imgs if i.url.startswith(("/", "media"))]
            inner = getattr(el, etype) if etype else None
            wid = getattr(inner, "id", "") if inner is not None else ""
            if wid:
                self._seen_ids.add(wid)
                key = wid.rsplit("-", 1)[-1]
                self.widgets[key] = inner
                self.fragments[key] = msg.delta.fragment_id
        elif kind == "file_urls_response":
            if self._file_urls is not None and not self._file_urls.done():
                self._file_urls.set_result(msg.file_urls_response)
        elif kind == "script_finished":
            status = msg.script_finished
            if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return  # the run this step asked for comes next
            if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR and step is not None:
                step.errors.append("the script failed to compile")
            self.run_no += 1
            if step is not None:
                step.runs += 1
            self.cache = {h: v for h, v in self.cache.items() if self.run_no - v[0] <= self.max_age}
            if not self._fragment_run:  # a fragment's run draws its own widgets only: the others stay mounted
                self.states = {k: s for k, s in self.states.items() if s.id in self._seen_ids}  # unmounted widgets go
            if step is not None and step.seconds != step.seconds:
                step.seconds = time.perf_counter() - self._t0
            if self._finished is not None:
                self._finished.set()

    async def _rerun(self, ws, name: str, page: str | None = None, fragment: str = "") -> Step:
        """Send a rerun as the browser does and wait for the script to finish (and the page's media). A widget
        drawn by an ``st.fragment`` reruns only that fragment, as the browser asks (``fragment``)."""
        step = Step(name)
        self.steps.append(step)
        self._begin(step)
        state = self._client_state(page)
        state.fragment_id = fragment
        self._fragment_run = bool(fragment)
        await ws.send(BackMsg(rerun_script=state).SerializeToString())
        await self._await_finish(step)
        return step

    def _begin(self, step: Step) -> None:
        self._step, self._t0, self._finished, self._media, self._seen_ids = (step, time.perf_counter(), asyncio.Event(),
                                                                            [], set())
        self._fragment_run = False
        self._forwards0 = self.count_forwards() if self.count_forwards else 0
        self._cpu0 = self.server_cpu() if self.server_cpu else 0.0

    def _client_state(self, page: str | None = None) -> ClientState:
        """What the browser sends with a rerun: the page on screen (or the one clicked), the widget values, the
        hashes of the large messages it holds."""
        if page is not None:
            self.page = page
        state = ClientState(query_string="", widget_states=WidgetStates(widgets=list(self.states.values())),
                            cached_message_hashes=sorted(self.cache))
        state.page_script_hash = self.pages.get(self.page, "")
        if not state.page_script_hash:
            state.page_name = self.page
        state.context_info.timezone = "Europe/Berlin"
        state.context_info.locale = "en-GB"
        state.context_info.url = f"{self.base}/{self.page}"
        return state

    async def _await_finish(self, step: Step) -> None:
        try:
            await asyncio.wait_for(self._finished.wait(), self.step_timeout)
        except asyncio.TimeoutError:
            step.errors.append(f"no script end within {self.step_timeout:.0f} s")
        if self._media:
            try:
                step.media_bytes = await self._fetch_media(sorted(set(self._media)))
            except OSError as exc:
                step.errors.append(f"media: {exc}")
        if self.count_forwards:
            step.forwards = self.count_forwards() - self._forwards0
        if self.server_cpu:
            step.cpu = self.server_cpu() - self._cpu0

    async def _upload(self, ws) -> Step:
        name, data = learner_image(self.index)
        uploader = self.widgets.get("vitviz_upload")
        step = Step("image")
        self.steps.append(step)
        if uploader is None:
            step.errors.append("no upload widget on the home page")
            return step
        self._begin(step)
        self._file_urls = asyncio.get_running_loop().create_future()
        await ws.send(BackMsg(file_urls_request=FileURLsRequest(request_id=uuid.uuid4().hex, file_names=[name],
                                                                session_id=self.session_id)).SerializeToString())
        urls = (await asyncio.wait_for(self._file_urls, self.step_timeout)).file_urls[0]
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        upload_url = urls.upload_url if urls.upload_url.startswith("http") else self.base + urls.upload_url
        req = urllib.request.Request(upload_url, data=body, method="PUT", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": self._cookie("_streamlit_xsrf") or "",
            "Origin": self.base})
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: self.http.open(req, timeout=self.step_timeout).read())
        self.states["upload"] = WidgetState(id=uploader.id, file_uploader_state_value=FileUploaderState(
            uploaded_file_info=[UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=urls)]))
        await ws.send(BackMsg(rerun_script=self._client_state()).SerializeToString())
        await self._await_finish(step)
        return step

    async def _move_layer_slider(self, ws) -> None:
        slider = self.widgets.get("attn_layer")
        if slider is None:
            self.steps.append(Step("attention slider", errors=["no layer slider on the Attention page"]))
            return
        top = int(slider.max)
        self._set("attn_layer", double_array_value=DoubleArray(data=[float(max(top - 1, 1))]))
        await self._rerun(ws, "attention slider", fragment=self.fragments.get("attn_layer", ""))

    def _set(self, key: str, **value) -> str | None:
        el = self.widgets.get(key)
        if el is None:
            return None
        self.states[key] = WidgetState(id=el.id, **value)
        return el.id

    async def _think(self) -> None:
        await asyncio.sleep(self.think_s * self.rng.uniform(0.8, 1.2))

    async def connect(self):
        """Open the tab: the page load's requests, then the websocket with a task reading it. (websocket, task)"""
        loop = asyncio.get_running_loop()
        for path in ("/", "/_stcore/health", "/_stcore/host-config"):
            await loop.run_in_executor(None, self._get, path)
        headers = {"Origin": self.base, "Cookie": "; ".join(f"{k.name}={k.value}" for k in self.jar)}
        ws = await websockets.connect(self.base.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                                      additional_headers=headers, max_size=None, open_timeout=self.step_timeout)
        return ws, asyncio.create_task(self._reader(ws))

    async def walk(self, deadline: float) -> None:
        """home -> (model) -> image -> every stage page (the layer slider on Attention) -> Attention again."""
        ws, reader = await self.connect()
        async with ws:
            try:
                await self._rerun(ws, "home", page="")
                if self.model is not None and self.model != "vit_s16":
                    await self._think()
                    from ui.widgets import model_label  # noqa: PLC0415 (only for a non-default model)
                    self._set("vitviz_model", string_value=model_label(self.model))
                    await self._rerun(ws, "model")
                await self._think()
                if self.source == "upload":
                    await self._upload(ws)
                else:
                    sample = PHOTOS[self.index % len(PHOTOS)]
                    self._set("vitviz_sample", string_value=sample.title)
                    await self._rerun(ws, "image")
                for stage in STAGES:
                    if time.monotonic() > deadline:
                        self.steps.append(Step(stage.key, errors=["deadline reached"]))
                        return
                    await self._think()
                    await self._rerun(ws, stage.key, page=stage.key)
                    if stage.key == "attention":
                        await self._think()
                        await self._move_layer_slider(ws)
                await self._think()
                await self._rerun(ws, REVISIT, page="attention")  # back to a page seen before
            finally:
                reader.cancel()


async def run_learners(url: str, count: int, first_index: int, args: argparse.Namespace,
                       deadline: float, count_forwards: Callable[[], int] | None = None,
                       server_cpu: Callable[[], float] | None = None,
                       jar: http.cookiejar.CookieJar | None = None) -> list[Learner]:
    learners = [Learner(url, first_index + i, args.think, args.step_timeout, args.source, args.model,
                        jar if count == 1 else None) for i in range(count)]
    for lrn in learners:
        lrn.count_forwards, lrn.server_cpu = count_forwards, server_cpu
    rng = random.Random(count)

    async def one(learner: Learner) -> None:
        await asyncio.sleep(rng.uniform(0, args.ramp) if count > 1 else 0)
        try:
            await learner.walk(deadline)
        except Exception as exc:  # a learner that fails is reported, the others go on
            learner.steps.append(Step("connection", errors=[f"{type(exc).__name__}: {exc}"]))

    tasks = [asyncio.create_task(one(lrn)) for lrn in learners]
    _done, late = await asyncio.wait(tasks, timeout=max(deadline - time.monotonic(), 1))
    for task in late:  # the run's deadline: stop them, report what they did
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    for lrn, task in zip(learners, tasks):
        if task in late:
            lrn.steps.append(Step("connection", errors=["stopped at the run's deadline"]))
    return learners


# --- a class: one teacher leads, N followers -------------------------------------------------------------

CODE_RE = re.compile(r'data-testid="vitviz-join-code"[^>]*>([0-9A-Z]{5})<')


class ClassClient(Learner):
    """A tab in a class: it answers Streamlit's ``auto_rerun`` messages as the browser does (a fragment rerun every
    interval, ``is_auto_rerun``), follows the page the server switches it to, and notes when each full run drew its
    first element and when it finished, so a teacher's step can be timed on every follower."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.auto: dict[str, float] = {}  # fragment id -> interval (s)
        self.page_hash = ""  # the page the server runs for this tab
        self.full_firsts: list[float] = []  # perf_counter of each full run's first visible element
        self.full_ends: list[float] = []  # perf_counter of each full run's end, with the page it ran
        self.full_pages: list[str] = []
        self.polls = 0
        self.poll_errors: list[str] = []
        self._polling = False  # a fragment rerun this tab asked for is running
        self._run_first: float | None = None  # the run now under way: its first visible element
        self._run_auto: dict[str, float] = {}  # and the fragments it keeps rerunning
        self._running = False  # a run of this tab is under way (the browser sends no check meanwhile)
        self._charts = 0
        self.full_charts: list[int] = []  # charts drawn by each full run (0 on a stage page: no image)
        self.code = ""

    def _on_message(self, msg: ForwardMsg, size: int) -> None:
        """Every run is watched from its start; its end says what it was (a fragment's, or the page's whole run),
        since a run the server starts on its own (a wake-up) may begin while this tab waits for its own check."""
        received = msg
        kind = msg.WhichOneof("type")
        if kind == "ref_hash" and msg.ref_hash in self.cache:  # an element the tab holds: it is drawn all the same
            msg, kind = self.cache[msg.ref_hash][1], "delta"
        if kind == "auto_rerun":
            self._run_auto[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
            self.auto[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            self.auto.clear()
        elif kind == "new_session":
            if msg.new_session.page_script_hash:
                self.page_hash = msg.new_session.page_script_hash
            self._run_first, self._seen_ids, self._charts, self._run_auto = None, set(), 0, {}
            self._running = True
        elif kind == "navigation" and msg.navigation.page_script_hash:
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            etype = el.WhichOneof("type")
            if etype == "plotly_chart":
                self._charts += 1
            if etype == "html" and not self.code:
                m = CODE_RE.search(el.html.body)
                if m:
                    self.code = m.group(1)
            if etype not in ("empty", "skeleton") and self._run_first is None:
                self._run_first = time.perf_counter()
            if etype == "exception":
                self.poll_errors.append(f"exception: {el.exception.type}: {el.exception.message[:200]}")
        if kind == "script_finished":
            status = msg.script_finished
            self._running = status == ForwardMsg.FINISHED_EARLY_FOR_RERUN  # a rerun follows at once
            if status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY and not self._fragment_run:
                self._polling = False  # this tab's own check, not a step
                self.run_no += 1
                return
            if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                self._polling = False  # the check found news: the app's rerun comes next
            if status == ForwardMsg.FINISHED_SUCCESSFULLY:  # the page's whole run
                now = time.perf_counter()
                self.full_firsts.append(self._run_first or now)  # a run that drew nothing new: its end
                self.full_ends.append(now)
                self.full_pages.append(self.page_hash)
                self.full_charts.append(self._charts)
                self.auto = dict(self._run_auto)  # the fragments this run keeps
                self._polling = False
        super()._on_message(received, size)

    def _client_state(self, page: str | None = None) -> ClientState:
        state = super()._client_state(page)
        if page is None and self.page_hash:  # the page the server switched this tab to
            state.page_script_hash = self.page_hash
        return state

    async def poll(self, ws, stop: asyncio.Event) -> None:
        """The browser's side of ``st.fragment(run_every=…)``: ask for the fragment's rerun every interval."""
        while not stop.is_set():
            interval = min(self.auto.values()) if self.auto else 0.5
            try:
                await asyncio.wait_for(stop.wait(), interval)
                return
            except asyncio.TimeoutError:
                pass
            if not self.auto or self._polling or self._running or (self._step is not None and
                                                                     self._step.seconds != self._step.seconds):
                continue
            fragment = next(iter(self.auto))
            state = self._client_state()
            state.fragment_id = fragment
            state.is_auto_rerun = True
            self._polling = True
            self.polls += 1
            await ws.send(BackMsg(rerun_script=state).SerializeToString())

    async def start_class(self, ws) -> str:
        """As a teacher: the home page, presenter mode, "Start a class". Returns the join code on the page ("" if
        none is shown)."""
        await self._rerun(ws, "home", page="")
        self._set("vitviz_presenter", bool_value=True)
        await self._rerun(ws, "presenter")
        self.press("vitviz_class_start")
        await self._rerun(ws, "start a class")
        self.release("vitviz_class_start")
        return self.code

    async def join(self, ws, code: str) -> Step:
        """Open the join link (``?class=CODE``) in this tab and wait for the page."""
        state = self._client_state(page="")
        state.query_string = f"class={code}"
        step = Step("join")
        self.steps.append(step)
        self._begin(step)
        await ws.send(BackMsg(rerun_script=state).SerializeToString())
        await self._await_finish(step)
        return step

    def press(self, key: str) -> bool:
        """A button click: its trigger goes with the next rerun only."""
        return self._set(key, trigger_value=True) is not None

    def release(self, key: str) -> None:
        self.states.pop(key, None)


@dataclass
class TeacherStep:
    name: str
    page: str  # the page's url path the followers must reach ("" home)
    t0: float
    teacher_s: float
    cpu_s: float = float("nan")  # server CPU from the click until the last follower finished
    seconds: list[float] = field(default_factory=list)
    firsts: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    forwards: int = 0


async def run_class(url: str, args: argparse.Namespace, monitor: Monitor, work: Path | None) -> dict:
    """1 teacher (presenter mode, a class, a sample) and N followers who open the join link; the teacher walks
    home → sample → every stage page → Attention again → a block and head change shown to everyone, waiting at
    each step until every follower has finished its page (or the step timeout), then thinking."""
    sample = PHOTOS[1]  # not a page's comparison image (Vectors compares with the cat): its analysis is new
    teacher = ClassClient(url, 20_000, args.think, args.step_timeout, "sample", args.model)
    followers = [ClassClient(url, 20_001 + i, args.think, args.step_timeout, "sample", None)
                 for i in range(args.learners)]
    stop = asyncio.Event()
    steps: list[TeacherStep] = []
    forwards = (lambda: forward_count(work)) if work else (lambda: -1)

    async def all_followers_after(t0: float, page: str) -> tuple[list[float], list[float], list[str]]:
        deadline = time.perf_counter() + args.step_timeout
        while time.perf_counter() < deadline:
            if all(any(e > t0 for e in f.full_ends) for f in followers):
                break
            await asyncio.sleep(0.02)
        want = teacher.pages.get(page, "")
        secs, firsts, errors = [], [], []
        for f in followers:
            ends = [(e, p, c) for e, p, c in zip(f.full_ends, f.full_pages, f.full_charts) if e > t0]
            first = [x for x in f.full_firsts if x > t0]
            if not ends:
                errors.append(f"follower {f.index}: no page within {args.step_timeout:.0f} s")
                continue
            secs.append(ends[0][0] - t0)
            firsts.append((first[0] if first else ends[0][0]) - t0)
            if want and ends[-1][1] != want:
                errors.append(f"follower {f.index}: on another page than the teacher's")
            if teacher.full_charts and ends[-1][2] != teacher.full_charts[-1]:
                errors.append(f"follower {f.index}: {ends[-1][2]} charts on {page or 'home'}, the teacher "
                              f"{teacher.full_charts[-1]}")
        return secs, firsts, errors

    async def step(name: str, page: str, send) -> None:
        await teacher._think()
        c0, f0, t0 = monitor.cpu(), forwards(), time.perf_counter()
        await send()
        teacher_s = time.perf_counter() - t0
        secs, firsts, errors = await all_followers_after(t0, page)
        ts = TeacherStep(name, page, t0, teacher_s, monitor.cpu() - c0, secs, firsts, errors, forwards() - f0)
        ts.errors += teacher.steps[-1].errors if teacher.steps else []
        steps.append(ts)

    t_ws, t_reader = await teacher.connect()
    pollers = [asyncio.create_task(teacher.poll(t_ws, stop))]  # held: a task nobody holds may be collected
    conns = []
    try:
        if not await teacher.start_class(t_ws):
            raise RuntimeError("the teacher's page shows no class code: " + "; ".join(teacher.steps[-1].errors))
        # idle: the server with the teacher alone, then with every follower joined and nobody clicking
        c0, w0 = monitor.cpu(), time.perf_counter()
        await asyncio.sleep(args.idle)
        alone = (monitor.cpu() - c0) / (time.perf_counter() - w0)
        for f in followers:  # each opens the join link
            conns.append(await f.connect())
        await asyncio.gather(*(f.join(ws, teacher.code) for f, (ws, _r) in zip(followers, conns)))
        pollers += [asyncio.create_task(f.poll(ws, stop)) for f, (ws, _r) in zip(followers, conns)]
        await asyncio.sleep(3)  # every follower's first check
        c0, w0, p0 = monitor.cpu(), time.perf_counter(), sum(f.polls for f in followers)
        await asyncio.sleep(args.idle)
        idle_wall = time.perf_counter() - w0
        idle = (monitor.cpu() - c0) / idle_wall
        idle_polls = (sum(f.polls for f in followers) - p0) / idle_wall

        async def sample_step():
            teacher._set("vitviz_sample", string_value=sample.title)
            await teacher._rerun(t_ws, "sample")
        await step("sample", "", sample_step)
        for stage in STAGES:
            await step(stage.key, stage.key, lambda k=stage.key: teacher._rerun(t_ws, k, page=k))
        await step("attention again", "attention", lambda: teacher._rerun(t_ws, "attention again", page="attention"))
        slider, head = teacher.widgets.get("attn_layer"), teacher.widgets.get("attn_head")
        if slider is not None and head is not None:
            teacher._set("attn_layer", double_array_value=DoubleArray(data=[1.0]))
            teacher._set("attn_head", string_value="head 1")
            await teacher._rerun(t_ws, "block and head", fragment=teacher.fragments.get("attn_layer", ""))

            async def show():
                teacher.press("vitviz_class_show")
                await teacher._rerun(t_ws, "show everyone")
                teacher.release("vitviz_class_show")
            await step("show everyone", "attention", show)
        else:
            steps.append(TeacherStep("show everyone", "attention", 0, 0, errors=["no block/head widgets"]))
    finally:
        stop.set()
        await asyncio.gather(*pollers, return_exceptions=True)
        for ws, reader in [(t_ws, t_reader)] + conns:
            reader.cancel()
            await ws.close()
    return {"steps": steps, "idle_cpu": idle, "alone_cpu": alone, "idle_polls_per_s": idle_polls,
            "join": [f.steps[0] for f in followers if f.steps], "teacher": teacher,
            "poll_errors": [e for f in followers for e in f.poll_errors]}


def report_class(res: dict, args: argparse.Namespace, servers: Servers, images: int) -> dict:
    steps: list[TeacherStep] = res["steps"]
    n = args.learners
    print(f"\nclass mode | model {args.model} | {'proxied x%d' % args.proxied if args.proxied else 'single process'} | "
          f"{n} followers | think {args.think:.1f} s")
    head = (f"{'teacher step':16s} {'teacher':>8s} | {'follower p50':>12s} {'p95':>6s} {'max':>6s} | {'1st Δ p50':>9s} "
            f"{'p95':>6s} {'max':>6s} | {'errors':>6s} {'fwd':>4s} | {'CPU/follower':>12s}")
    print(head)
    print("-" * len(head))
    rows = {}
    for s in steps:
        cpu_each = s.cpu_s / n if n else float("nan")
        rows[s.name] = {"teacher_s": s.teacher_s, "p50": pct(s.seconds, 0.5), "p95": pct(s.seconds, 0.95),
                        "max": pct(s.seconds, 1.0), "first_p50": pct(s.firsts, 0.5), "first_p95": pct(s.firsts, 0.95),
                        "first_max": pct(s.firsts, 1.0), "errors": len(s.errors), "forwards": s.forwards,
                        "cpu_per_follower": cpu_each}
        r = rows[s.name]
        print(f"{s.name:16s} {s.teacher_s:7.2f}s | {r['p50']:11.2f}s {r['p95']:5.2f}s {r['max']:5.2f}s | "
              f"{r['first_p50']:8.2f}s {r['first_p95']:5.2f}s {r['first_max']:5.2f}s | {r['errors']:6d} "
              f"{s.forwards:4d} | {cpu_each:11.3f}s")
    join = res["join"]
    print(f"join (the link, {len(join)} at once): p50 {pct([j.seconds for j in join], 0.5):.2f} s, "
          f"p95 {pct([j.seconds for j in join], 0.95):.2f} s")
    print(f"idle: server CPU {res['alone_cpu'] * 100:.1f} % of one core with the teacher alone, "
          f"{res['idle_cpu'] * 100:.1f} % with {n} idle followers ({res['idle_polls_per_s']:.1f} checks/s): "
          f"the followers' polling costs {(res['idle_cpu'] - res['alone_cpu']) * 100:.1f} % of one core")
    cpu_steps = [s.cpu_s / n for s in steps if n and s.cpu_s == s.cpu_s]
    print(f"server CPU per follower step (the step's CPU over {n} followers, the teacher's own run included): "
          f"median {statistics.median(cpu_steps) if cpu_steps else float('nan'):.3f} s")
    errors = [e for s in steps for e in s.errors] + res["poll_errors"] + [e for j in join for e in j.errors]
    for e in errors[:12]:
        print("  error:", e)
    pooled = [x for s in steps for x in s.seconds]
    print(f"every follower step pooled: p50 {pct(pooled, 0.5):.2f} s, p95 {pct(pooled, 0.95):.2f} s; first change p50 "
          f"{pct([x for s in steps for x in s.firsts], 0.5):.2f} s")
    forwards = sum(s.forwards for s in steps)
    p95 = max((pct(s.seconds, 0.95) for s in steps), default=float("nan"))
    first = max((pct(s.firsts, 0.95) for s in steps), default=float("nan"))
    print(f"forward passes during the teacher's steps: {forwards} (images the teacher chose: {images})")
    print(f"class mode: {n} followers, teacher-step p95 {p95:.2f} s, first change p95 {first:.2f} s, "
          f"errors {len(errors)}, forward passes {forwards}")
    return {"rows": rows, "idle_cpu": res["idle_cpu"], "alone_cpu": res["alone_cpu"], "errors": len(errors),
            "forwards": forwards, "teacher_step_p95": p95, "first_change_p95": first}


# --- report ------------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    values = sorted(v for v in values if v == v)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


@dataclass
class Phase:
    learners: int
    steps: dict[str, list[Step]]
    cpu_s: float
    wall_s: float
    forwards: int
    errors: list[str]
    jars: list[http.cookiejar.CookieJar] = field(default_factory=list)  # the learners' cookies, in order

    def row(self, name: str) -> dict:
        s = self.steps.get(name, [])
        secs = [x.seconds for x in s]
        first = [x.first_delta for x in s]
        return {"n": len(s), "p50": pct(secs, 0.5), "p95": pct(secs, 0.95), "max": pct(secs, 1.0),
                "first_p50": pct(first, 0.5), "first_p95": pct(first, 0.95), "first_max": pct(first, 1.0),
                "kb": statistics.median([x.ws_bytes / 1e3 for x in s]) if s else float("nan"),
                "media_kb": statistics.median([x.media_bytes / 1e3 for x in s]) if s else float("nan"),
                "cpu": statistics.median([x.cpu for x in s]) if s else float("nan")}


def collect(learners: list[Learner], cpu_s: float, wall_s: float, forwards: int) -> Phase:
    steps: dict[str, list[Step]] = {}
    errors = []
    for lrn in learners:
        for s in lrn.steps:
            steps.setdefault(s.name, []).append(s)
            errors += [f"learner {lrn.index} {s.name}: {e}" for e in s.errors]
    return Phase(len(learners), steps, cpu_s, wall_s, forwards, errors, [lrn.jar for lrn in learners])


def report(solo: Phase, group: Phase, monitor: Monitor, servers: Servers, args: argparse.Namespace,
           log_tracebacks: int) -> dict:
    order = [n for n in ["home", "model", "image"] + [s.key for s in STAGES] + ["attention slider", REVISIT,
                                                                                "connection"]
             if n in solo.steps or n in group.steps]
    print(f"\nmodel {args.model} | {'proxied x%d' % args.proxied if args.proxied else 'single process'} | "
          f"source {args.source} | think {args.think:.1f} s | ramp {args.ramp:.0f} s")
    head = (f"{'step':18s} {'1: p50':>7s} | {f'{group.learners}: p50':>8s} {'p95':>6s} {'max':>6s} "
            f"{'ratio':>6s} | {'1st Δ p50':>9s} {'p95':>6s} {'max':>6s} | {'kB/view':>8s} {'media kB':>8s} | {'CPU 1':>6s}")
    print(head)
    print("-" * len(head))
    rows = {}
    for name in order:
        a, b = solo.row(name), group.row(name)
        ratio = b["p50"] / a["p50"] if a["p50"] and a["p50"] == a["p50"] else float("nan")
        rows[name] = {"solo": a, "group": b}
        print(f"{name:18s} {a['p50']:6.2f}s | {b['p50']:7.2f}s {b['p95']:5.2f}s {b['max']:5.2f}s {ratio:5.1f}× | "
              f"{b['first_p50']:8.2f}s {b['first_p95']:5.2f}s {b['first_max']:5.2f}s | {b['kb']:8.0f} {b['media_kb']:8.0f} | "
              f"{a['cpu']:5.2f}s")
    page_steps = [s for n in order if n not in ("home", "model", "image", "connection") for s in group.steps.get(n, [])]
    solo_pages = [s for n in order if n not in ("home", "model", "image", "connection") for s in solo.steps.get(n, [])]
    summary = {
        "page_step_p50": pct([s.seconds for s in page_steps], 0.5),
        "page_step_p95": pct([s.seconds for s in page_steps], 0.95),
        "first_delta_p95": pct([s.first_delta for s in page_steps + group.steps.get("image", [])], 0.95),
        "solo_page_step_p50": pct([s.seconds for s in solo_pages], 0.5),
        "solo_page_cpu_p50": pct([s.cpu for s in solo_pages], 0.5),
    }
    cores = max(1, len(servers.pids))
    print(f"\npage steps (analysis exists): 1 learner p50 {summary['solo_page_step_p50']:.2f} s | "
          f"{group.learners} learners p50 {summary['page_step_p50']:.2f} s, p95 {summary['page_step_p95']:.2f} s; "
          f"first visible change p95 (pages and image) {summary['first_delta_p95']:.2f} s\n"
          f"server CPU per page step, 1 learner (column 'CPU 1'): median {summary['solo_page_cpu_p50']:.2f} s")
    for ph, label in ((solo, "1 learner"), (group, f"{group.learners} learners")):
        print(f"{label:12s}: server CPU {ph.cpu_s:6.1f} s = {ph.cpu_s / ph.learners:4.1f} s per learner walk | "
              f"cores used {ph.cpu_s / ph.wall_s:4.2f} of {psutil.cpu_count()} (over {ph.wall_s:.0f} s, "
              f"{cores} app process{'es' if cores > 1 else ''}) | forward passes {ph.forwards} "
              f"(distinct images {ph.learners}) | errors {len(ph.errors)}")
    print(f"peak RSS: {monitor.peak_rss / 2**30:.2f} GB over all app processes, {monitor.peak_each / 2**30:.2f} GB the "
          f"largest one | tracebacks in the server log: {log_tracebacks}")
    client = time.process_time()
    print(f"this benchmark's own CPU (the simulated browsers, on the same cores): {client:.1f} s over the whole run")
    per_step = {n: sum(s.forwards for s in solo.steps.get(n, [])) for n in order}
    print("forward passes per step, 1 learner: " + ", ".join(f"{n} {c}" for n, c in per_step.items() if c))
    for e in (solo.errors + group.errors)[:12]:
        print("  error:", e)
    return {"rows": rows, "summary": summary, "cpu_per_learner": [solo.cpu_s / solo.learners, group.cpu_s / group.learners],
            "cores_used": [solo.cpu_s / solo.wall_s, group.cpu_s / group.wall_s],
            "forwards": [solo.forwards, group.forwards], "errors": [len(solo.errors), len(group.errors)],
            "peak_rss_gb": monitor.peak_rss / 2**30, "peak_rss_each_gb": monitor.peak_each / 2**30,
            "tracebacks": log_tracebacks, "forwards_per_step_solo": per_step, "client_cpu_s": client}


# --- main --------------------------------------------------------------------------------------------

async def phase(url: str, count: int, first: int, args, deadline: float, monitor: Monitor, work: Path | None,
                jar: http.cookiejar.CookieJar | None = None) -> Phase:
    """``count`` learners' walks; ``jar``: the one learner's cookies (a new tab of a browser seen before)."""
    f0, c0, t0 = forward_count(work) if work else 0, monitor.cpu(), time.perf_counter()
    learners = await run_learners(url, count, first, args, deadline,
                                  (lambda: forward_count(work)) if work and count == 1 else None,
                                  monitor.cpu if count == 1 else None, jar)
    wall = time.perf_counter() - t0
    return collect(learners, monitor.cpu() - c0, wall, (forward_count(work) - f0) if work else -1)


async def main_async(args: argparse.Namespace, servers: Servers, work: Path | None) -> dict:
    deadline = time.monotonic() + args.deadline
    with Monitor(servers.pids) as monitor:
        # warm-up, not measured: each app process loads the model and runs one analysis
        warm = await asyncio.gather(*(run_learners(b, 1, 10_000 + i, argparse.Namespace(**{**vars(args), "ramp": 0}),
                                                   deadline) for i, b in enumerate(servers.backends)))
        for w in warm:
            for s in w[0].steps[:3]:
                print(f"warm-up {s.name}: {s.seconds:.2f} s {'; '.join(s.errors)}")
        if args.klass:
            res = await asyncio.wait_for(run_class(servers.url, args, monitor, work), max(deadline - time.monotonic(), 1))
            notes = server_notes(work) if work else ({}, [])
            out = report_class(res, args, servers, images=1)  # its last line is the one scripts read
            out["forward_callers"], out["held_at_peak"] = notes
            return out
        solo = await phase(servers.url, 1, 0, args, deadline, monitor, work)
        # the same learner's walk again in a new tab of the same browser (its cookies: behind nginx, the same
        # process): the same photo, so its analysis and every figure are cached and what the server spends is the
        # pages' drawing and Streamlit's own work
        again = await phase(servers.url, 1, 0, args, deadline, monitor, work, jar=solo.jars[0])
        group = await phase(servers.url, args.learners, 1, args, deadline, monitor, work)
    tracebacks = servers.log.read_text(errors="replace").count("Traceback") if servers.log else -1
    result = report(solo, group, monitor, servers, args, tracebacks)
    result["cached_walk"] = floor_report(again)
    if work:
        result["forward_callers"], result["held_at_peak"] = server_notes(work)
    return result


def floor_report(again: Phase) -> dict:
    """The walk with everything cached: server CPU, script runs and messages, per walk and per step; its forward
    passes (0 when it really found everything cached) and errors."""
    steps = [s for lrn_steps in again.steps.values() for s in lrn_steps]
    messages, runs = sum(s.messages for s in steps), sum(s.runs for s in steps)
    print(f"1 learner, the same photo again in a new tab (analysis and figures cached): server CPU {again.cpu_s:.2f} s "
          f"per walk over {len(steps)} steps and {runs} script runs, {messages} messages received (walk CPU / messages "
          f"{again.cpu_s / max(messages, 1) * 1e3:.2f} ms), forward passes {again.forwards}, errors "
          f"{len(again.errors)} | per step, CPU s / runs / messages: "
          + ", ".join(f"{n} {s[0].cpu:.3f}/{s[0].runs}/{s[0].messages}" for n, s in again.steps.items() if s))
    for e in again.errors[:5]:
        print("  error (cached walk):", e)
    return {"cpu": again.cpu_s, "messages": messages, "runs": runs, "steps": len(steps), "forwards": again.forwards,
            "errors": len(again.errors),
            "per_step": {n: [s[0].cpu, s[0].runs, s[0].messages] for n, s in again.steps.items() if s}}


def server_notes(work: Path) -> tuple[dict[str, int], list[dict]]:
    """Who asked for the forward passes (the vitviz functions on the stack), over the whole run, and what each
    app process held at its peak resident memory (the caches' MB, malloc's bytes in use and kept free)."""
    log = work / "forwards.log"
    callers: dict[str, int] = {}
    for line in (log.read_text().splitlines() if log.exists() else []):
        who = line.split(" ", 1)[1] if " " in line else "?"
        callers[who] = callers.get(who, 0) + 1
    peaks = [json.loads(f.read_text()) for f in sorted(work.glob("forwards.log.peak.*"))]
    print("forward passes by caller (whole run, warm-up included): "
          + "; ".join(f"{who or '?'} {n}" for who, n in sorted(callers.items(), key=lambda kv: -kv[1])))
    for note in peaks:
        print("held at peak RSS: " + ", ".join(f"{k} {v}" for k, v in note.items()))
    return callers, peaks


def run_against(args: argparse.Namespace, servers: Servers, counted: Path | None) -> dict:
    try:
        return asyncio.run(main_async(args, servers, counted))
    finally:
        servers.stop()


def compare(other: dict, this: dict) -> None:
    """The two runs' headline numbers side by side (``--against``), with this/other."""
    rows = [("walk CPU-s per learner, alone", other["cpu_per_learner"][0], this["cpu_per_learner"][0]),
            ("walk CPU-s per learner, class", other["cpu_per_learner"][1], this["cpu_per_learner"][1]),
            ("page step p50, class (s)", other["summary"]["page_step_p50"], this["summary"]["page_step_p50"]),
            ("page step p95, class (s)", other["summary"]["page_step_p95"], this["summary"]["page_step_p95"]),
            ("first visible change p95 (s)", other["summary"]["first_delta_p95"], this["summary"]["first_delta_p95"]),
            ("page step CPU median, alone (s)", other["summary"]["solo_page_cpu_p50"],
             this["summary"]["solo_page_cpu_p50"]),
            ("walk CPU-s, everything cached", other["cached_walk"]["cpu"], this["cached_walk"]["cpu"]),
            ("messages per walk, everything cached", other["cached_walk"]["messages"], this["cached_walk"]["messages"]),
            ("script runs per walk, everything cached", other["cached_walk"]["runs"], this["cached_walk"]["runs"]),
            ("errors (alone + cached + class)", sum(other["errors"]) + other["cached_walk"]["errors"],
             sum(this["errors"]) + this["cached_walk"]["errors"])]
    print(f"\n{'':38s} {'other':>9s} {'this':>9s}  this/other")
    for name, a, b in rows:
        digits = 0 if isinstance(a, int) and isinstance(b, int) else 2  # counts as counts
        print(f"{name:38s} {a:9.{digits}f} {b:9.{digits}f}  {b / a if a else float('nan'):8.2f}")


def compare_class(other: dict, this: dict) -> None:
    """Two class-mode runs side by side (``--class --against``): each teacher step's followers, then the headline."""
    print(f"\n{'teacher step':16s} | {'follower p95':>12s} {'':>6s} {'':>6s} | {'first change p95':>16s} {'':>6s} {'':>6s}")
    print(f"{'':16s} | {'other':>12s} {'this':>6s} {'ratio':>6s} | {'other':>16s} {'this':>6s} {'ratio':>6s}")
    for name, b in this["rows"].items():
        a = other["rows"].get(name)
        if a is None:
            continue
        print(f"{name:16s} | {a['p95']:11.2f}s {b['p95']:5.2f}s {b['p95'] / a['p95'] if a['p95'] else float('nan'):6.2f} | "
              f"{a['first_p95']:15.2f}s {b['first_p95']:5.2f}s "
              f"{b['first_p95'] / a['first_p95'] if a['first_p95'] else float('nan'):6.2f}")
    rows = [("teacher-step p95, worst (s)", other["teacher_step_p95"], this["teacher_step_p95"]),
            ("first change p95, worst (s)", other["first_change_p95"], this["first_change_p95"]),
            ("idle followers' CPU (% of a core)", (other["idle_cpu"] - other["alone_cpu"]) * 100,
             (this["idle_cpu"] - this["alone_cpu"]) * 100),
            ("errors", other["errors"], this["errors"]), ("forward passes", other["forwards"], this["forwards"])]
    print(f"\n{'':34s} {'other':>9s} {'this':>9s}  this/other")
    for name, a, b in rows:
        print(f"{name:34s} {a:9.2f} {b:9.2f}  {b / a if a else float('nan'):8.2f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--learners", type=int, default=30)
    p.add_argument("--model", default="vit_s16", help="zoo key (random weights; 'shapes' is the bundled model)")
    p.add_argument("--source", choices=["upload", "sample"], default="upload",
                   help="upload: each learner its own photo (default); sample: the gallery, shared by several")
    p.add_argument("--think", type=float, default=1.0, help="seconds between steps (±20 %%)")
    p.add_argument("--ramp", type=float, default=5.0, help="learners start within this many seconds")
    p.add_argument("--step-timeout", type=float, default=120.0)
    p.add_argument("--deadline", type=float, default=600.0, help="the whole run stops after this many seconds")
    p.add_argument("--proxied", type=int, default=0, metavar="P", help="P app processes behind nginx (deploy/serve.sh)")
    p.add_argument("--url", help="a server or proxied set already running (only 127.0.0.1)")
    p.add_argument("--pids", default="", help="with --url: the app processes' PIDs, comma-separated (CPU, RSS)")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    p.add_argument("--class", dest="klass", action="store_true",
                   help="class mode: 1 teacher leads (presenter mode, a class, a sample, every page, a block and head "
                        "shown to everyone) and --learners followers join by the link")
    p.add_argument("--idle", type=float, default=20.0, help="class mode: seconds of idle measurement")
    p.add_argument("--against", type=Path, metavar="OTHER",
                   help="another checkout (e.g. a git worktree of main): the same run against its server first, then "
                        "against this checkout's, and the ratios this/other")
    args = p.parse_args()
    if not 1 <= args.learners <= MAX_LEARNERS:
        p.error(f"--learners must be 1-{MAX_LEARNERS}")
    work = Path(tempfile.mkdtemp(prefix="vitviz_load_"))
    try:
        if args.url:
            host = urllib.parse.urlparse(args.url).hostname
            if host != "127.0.0.1":
                p.error("--url must be on 127.0.0.1")
            pids = [int(x) for x in args.pids.split(",") if x]
            servers, counted = Servers(args.url.rstrip("/"), pids, [args.url.rstrip("/")]), None
            result = run_against(args, servers, counted)
        else:
            runs = {}
            for label, root in ([("other", args.against.resolve())] if args.against else []) + [("this", ROOT)]:
                sub = work / label
                sub.mkdir()
                print(f"\n##### {label}: {root}")
                servers = (start_proxied(sub, args.model, args.proxied, root) if args.proxied
                           else start_single(sub, args.model, root))
                runs[label] = run_against(args, servers, sub)
            result = runs["this"]
            if args.against:
                result = {"this": runs["this"], "other": runs["other"]}
                (compare_class if args.klass else compare)(runs["other"], runs["this"])
        result["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        if args.json:
            args.json.write_text(json.dumps(result, indent=1, default=str))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
