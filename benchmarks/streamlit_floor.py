"""The floor of a Streamlit rerun on this machine: server CPU per run of a bare app drawing N small elements.

A page's cost on the server has two parts: what the page computes, and what Streamlit does for every element it
draws (the element's protobuf, its hash for the browser's message cache, the hand-over from the script thread to
the server's event loop, the websocket frame). This measures the second part alone, for small elements: a
throwaway app with no imports beyond Streamlit draws N markdown lines of about 80 characters ("markdown"), or N // 4
rows of three columns with a short line in each ("columns": 7 messages a row), run through the real server
(``streamlit run``, the project's server settings: no magic, no full garbage collection after each run, no file
watcher) by a client speaking Streamlit's websocket protocol, as ``classroom_load.py`` does. The server process's
CPU per rerun is fitted as ``a + b × messages``: ``a`` is a rerun's fixed cost, ``b`` each message's.

``classroom_load.py`` counts the messages and script runs of vitviz's own walk with everything cached ("the same
photo again"): ``a`` per run and ``b`` per message give a lower bound on what Streamlit itself spends on that walk
(its figures are far larger messages than these lines, and a message's hash and copy grow with its size).

It also times compiling this checkout's scripts (the entry, the home page, the stage pages) with and without
Streamlit's magic, as Streamlit compiles them whenever its script cache was emptied (each time the last session
has left).

    python benchmarks/streamlit_floor.py                 # N = 0, 100, 300, 600; 20 reruns each, interleaved
    python benchmarks/streamlit_floor.py --reruns 40 --sizes 0,200,400
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classroom_load import free_port, wait_healthy  # noqa: E402  (the same server start and port range)

from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ClientState_pb2 import ClientState  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

APP = '''
import streamlit as st

n = int(st.query_params.get("n", "0"))
kind = st.query_params.get("kind", "markdown")
if kind == "markdown":
    for i in range(n):
        st.markdown(f"Line {i}: a sentence of about the length a page writes, with **some** emphasis.")
else:  # rows of three columns, a short line in each: the layout of a table drawn with st.columns
    for i in range(n // 4):
        for c, col in enumerate(st.columns(3)):
            col.markdown(f"Row {i}, column {c}")
'''

CONFIG = """[server]
headless = true
fileWatcherType = "none"
[runner]
postScriptGC = false
magicEnabled = false
[browser]
gatherUsageStats = false
"""


async def rerun(ws, query: str) -> int:
    """One rerun with ``query``; the number of messages the server sent for it."""
    await ws.send(BackMsg(rerun_script=ClientState(query_string=query)).SerializeToString())
    count = 0
    async for data in ws:
        msg = ForwardMsg()
        msg.ParseFromString(data)
        count += 1
        if msg.WhichOneof("type") == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            return count
    raise RuntimeError("the connection closed before the run finished")


async def measure(url: str, proc: psutil.Process, sizes: list[int], kind: str, reruns: int) -> dict[int, list]:
    """Per size: [(server CPU s, messages)] over ``reruns`` interleaved rounds, after two warm-up rounds."""
    out: dict[int, list] = {n: [] for n in sizes}
    async with websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                                  max_size=None) as ws:
        for round_no in range(reruns + 2):
            for n in sizes:
                await asyncio.sleep(0.05)  # the previous run's messages are out; its thread has ended
                c0 = proc.cpu_times()
                messages = await rerun(ws, f"n={n}&kind={kind}")
                await asyncio.sleep(0.05)
                c1 = proc.cpu_times()
                if round_no >= 2:
                    out[n].append((c1.user + c1.system - c0.user - c0.system, messages))
    return out


def compile_cost(rounds: int = 5) -> tuple[float, float]:
    """CPU seconds to compile this checkout's scripts as Streamlit does (``ScriptCache.get_bytecode``), with and
    without magic's syntax-tree rewrite: the median of ``rounds``, each compiling every script once."""
    from streamlit.runtime.scriptrunner import magic

    from vitviz.walkthrough import HOME_PAGE, STAGES

    root = Path(__file__).resolve().parents[1]
    scripts = [root / "streamlit_app.py", root / HOME_PAGE, *(root / s.page for s in STAGES)]
    sources = [(str(p), p.read_text()) for p in scripts]
    out = []
    for with_magic in (True, False):
        cpu = []
        for _ in range(rounds):
            c0 = time.process_time()
            for name, text in sources:
                code = magic.add_magic(text, name) if with_magic else text
                compile(code, name, mode="exec", flags=0, dont_inherit=1, optimize=-1)
            cpu.append(time.process_time() - c0)
        out.append(statistics.median(cpu))
    return out[0], out[1]


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares ``y = a + b·x``."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    b = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="0,100,300,600", help="elements per run, comma-separated")
    p.add_argument("--reruns", type=int, default=20)
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if len(set(sizes)) < 2:
        p.error("--sizes needs at least two different sizes to fit a line")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    with_magic, without = compile_cost()
    print(f"compiling this checkout's scripts (entry, home, stage pages), median of 5: {with_magic * 1e3:.0f} ms with "
          f"magic, {without * 1e3:.0f} ms without")
    with tempfile.TemporaryDirectory(prefix="vitviz_floor_") as tmp:
        app = Path(tmp)
        (app / "app.py").write_text(APP)
        (app / ".streamlit").mkdir()
        (app / ".streamlit" / "config.toml").write_text(CONFIG)
        port = free_port()
        cmd = (f"exec {sys.executable} -m streamlit run app.py --server.port {port} --server.address 127.0.0.1 "
               f"--server.headless true")
        server = subprocess.Popen(cmd, shell=True, cwd=app, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                  env={**os.environ, "PYTHONPATH": ""})
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, server)
            proc = psutil.Process(server.pid)
            print(f"Streamlit's own cost per rerun (server process CPU, medians of {args.reruns} interleaved reruns; "
                  f"psutil's clock ticks are 10 ms, so the fit over many runs is what to read)")
            for kind in ("markdown", "columns"):
                t0 = time.perf_counter()
                res = asyncio.run(measure(url, proc, sizes, kind, args.reruns))
                points = [(m, c) for n in sizes for c, m in res[n]]
                a, b = fit(points)
                print(f"\n{kind}: {'N':>9s} {'messages':>9s} {'CPU ms (median)':>16s} {'CPU ms (mean)':>14s}")
                for n in sizes:
                    cpu = [c for c, _ in res[n]]
                    print(f"{'':10s}{n:9d} {statistics.median(m for _, m in res[n]):9.0f} "
                          f"{statistics.median(cpu) * 1e3:16.1f} {statistics.fmean(cpu) * 1e3:14.1f}")
                print(f"  fit over messages: {a * 1e3:.1f} ms per rerun + {b * 1e3:.3f} ms per message "
                      f"({time.perf_counter() - t0:.0f} s)")
        finally:
            server.terminate()
            server.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
