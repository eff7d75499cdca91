"""deploy/: nginx keeps a browser, and a class, on one app process (cookie- and class-code-sticky routing).

Real nginx (Debian's package) on the configuration deploy/nginx_conf.sh generates, in front of stand-in app
processes that say which one answered, and once in front of the real app processes deploy/serve.sh starts.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CONF = ROOT / "deploy" / "nginx_conf.sh"
SERVE = ROOT / "deploy" / "serve.sh"
PORT_RANGE = range(8550, 8580)  # this suite's ports; taken ones are skipped


@pytest.fixture(scope="module", autouse=True)
def _nginx() -> None:
    if not Path(NGINX).exists():
        pytest.fail("Debian's nginx is required for the deploy tests: apt-get install -y nginx")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(n: int) -> list[int]:
    """n consecutive free ports of PORT_RANGE (serve.sh puts its app processes on consecutive ports)."""
    for first in PORT_RANGE[: len(PORT_RANGE) - n + 1]:
        if all(_free(first + k) for k in range(n)):
            return list(range(first, first + n))
    raise RuntimeError(f"no {n} consecutive free ports in {PORT_RANGE}")


def generate(run: Path, port: int, addresses: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(CONF), str(run), "127.0.0.1", str(port), *addresses],
                          capture_output=True, text=True)


def nginx_test(run: Path, conf: Path) -> subprocess.CompletedProcess:
    return subprocess.run([NGINX, "-t", "-e", str(run / "error.log"), "-c", str(conf), "-p", str(run)],
                          capture_output=True, text=True)


class Response:
    """Status and headers of one HTTP response, read off a raw socket (a 101 too)."""

    def __init__(self, raw: bytes):
        head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        self.status = int(head[0].split()[1])
        self.headers = [tuple(part.strip() for part in line.split(":", 1)) for line in head[1:]]

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def upstream_port(self) -> int:
        (addr,) = self.all("X-Vitviz-Upstream")
        return int(addr.rsplit(":", 1)[1])

    def cookie(self, name: str) -> str | None:
        """The Set-Cookie header for `name` (whole, with its attributes), or None."""
        found = [c for c in self.all("Set-Cookie") if c.startswith(name + "=")]
        assert len(found) <= 1, found
        return found[0] if found else None


def request(port: int, path: str = "/", cookies: dict[str, str] | None = None, websocket: bool = False) -> Response:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    if cookies:
        lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
    if websocket:
        lines[2] = "Connection: Upgrade"
        lines += ["Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = s.recv(4096)
            if not chunk:
                break
            raw += chunk
    return Response(raw)


class StandIn(http.server.BaseHTTPRequestHandler):
    """An app process's stand-in: answers every GET (a websocket upgrade with 101) and closes."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
        else:
            self.send_response(200)
            self.send_header("Content-Length", "0")
        self.end_headers()
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def stand_in_proxy(tmp_path_factory) -> Iterator[tuple[int, list[int]]]:
    """nginx on the generated configuration in front of two stand-ins: (nginx port, [port of 0, port of 1])."""
    run = tmp_path_factory.mktemp("nginx")
    port, *app_ports = free_ports(3)
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", p), StandIn) for p in app_ports]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    conf = run / "nginx.conf"
    out = generate(run, port, [f"127.0.0.1:{p}" for p in app_ports])
    assert out.returncode == 0, out.stderr
    conf.write_text(out.stdout)
    proc = subprocess.Popen([NGINX, "-e", str(run / "error.log"), "-c", str(conf), "-p", str(run)])
    try:
        wait_until(lambda: request(port, "/").status == 200)
        yield port, app_ports
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for server in servers:
            server.shutdown()
            server.server_close()


def wait_until(ready, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if ready():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("not ready")
        time.sleep(0.2)


def routes_to(port: int, app_ports: list[int]) -> dict[int, str]:
    """A `vitviz_route` cookie value that the hash sends to each process (found by asking nginx)."""
    found: dict[int, str] = {}
    for n in range(200):
        value = f"route{n:03d}"
        found.setdefault(app_ports.index(request(port, "/", {"vitviz_route": value}).upstream_port), value)
        if len(found) == len(app_ports):
            return found
    raise AssertionError(f"200 route cookies all hashed to {found}")


# --- the generated configuration ---------------------------------------------------------------------------

@pytest.mark.parametrize("processes", [1, 2, 10])
def test_the_generated_configuration_passes_nginx_t(tmp_path, processes):
    out = generate(tmp_path, 8550, [f"127.0.0.1:{9000 + i}" for i in range(processes)])
    assert out.returncode == 0, out.stderr
    conf = tmp_path / "nginx.conf"
    conf.write_text(out.stdout)
    checked = nginx_test(tmp_path, conf)
    assert checked.returncode == 0, checked.stderr
    text = out.stdout
    assert "@" not in text  # every placeholder filled in
    for i in range(processes):
        assert f"upstream vitviz_{i} {{ server 127.0.0.1:{9000 + i} max_fails=0; }}" in text
        assert f'"~*^{i}[a-z]{{4}}$" {i};' in text
    assert f"upstream vitviz_{processes} " not in text
    # the memory settings stay: uploads in RAM, nothing buffered to disk
    for line in ("client_body_buffer_size 32m;", "proxy_request_buffering off;", "proxy_buffering off;"):
        assert line in text


def test_more_than_ten_processes_are_refused_with_a_sentence(tmp_path):
    out = generate(tmp_path, 8550, [f"127.0.0.1:{9000 + i}" for i in range(11)])
    assert out.returncode != 0 and out.stdout == ""
    assert "at most 10" in out.stderr
    served = subprocess.run([str(SERVE), "11", "8550"], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "VITVIZ_RUN_DIR": str(tmp_path / "run")})
    assert served.returncode == 2
    assert "1 to 10" in served.stderr and "one digit" in served.stderr
    assert not (tmp_path / "run" / "apps").exists()  # refused before any process started


# --- routing, stand-in app processes -----------------------------------------------------------------------

def test_a_class_code_picks_its_process_and_a_session_cookie_keeps_the_browser_there(stand_in_proxy):
    port, apps = stand_in_proxy
    route = routes_to(port, apps)
    # a browser the hash would keep on process 0 opens the join link of a class on process 1
    first = request(port, "/?class=1ABCD", {"vitviz_route": route[0]})
    assert first.upstream_port == apps[1]
    assert first.cookie("vitviz_replica") == "vitviz_replica=1; Path=/; HttpOnly; SameSite=Lax"
    # its later requests carry no code, only the cookie: the page's files and its websocket stay on 1
    kept = {"vitviz_route": route[0], "vitviz_replica": "1"}
    for path in ("/", "/static/js/index.js", "/media/abc.png"):
        later = request(port, path, kept)
        assert later.upstream_port == apps[1] and later.cookie("vitviz_replica") is None
    ws = request(port, "/_stcore/stream", kept, websocket=True)
    assert ws.status == 101 and ws.upstream_port == apps[1]
    # a class on process 0, any case, from a browser the hash sends to 1 (and one that was on 1's class)
    for cookies in ({"vitviz_route": route[1]}, kept):
        zero = request(port, "/?class=0xyzw", cookies)
        assert zero.upstream_port == apps[0]
        assert zero.cookie("vitviz_replica").startswith("vitviz_replica=0;")
    # the code in the middle of other arguments
    assert request(port, "/?embed=true&class=1QRST&x=1", {"vitviz_route": route[0]}).upstream_port == apps[1]


def test_without_a_code_or_class_cookie_the_route_hash_decides(stand_in_proxy):
    port, apps = stand_in_proxy
    fresh = request(port, "/")
    assert fresh.cookie("vitviz_route") is not None and fresh.cookie("vitviz_replica") is None
    route = routes_to(port, apps)  # both processes are reached by some route cookie, each one always the same
    for index, value in route.items():
        for _ in range(3):
            answer = request(port, "/", {"vitviz_route": value})
            assert answer.upstream_port == apps[index]
            assert answer.cookie("vitviz_route") is None and answer.cookie("vitviz_replica") is None
        ws = request(port, "/_stcore/stream", {"vitviz_route": value}, websocket=True)
        assert ws.status == 101 and ws.upstream_port == apps[index]


@pytest.mark.parametrize("code", ["7ABCD", "2ABCD", "1ABC", "1ABCDE", "12345", "A1BCD", "", "1AB%20D"])
def test_a_code_naming_no_process_leaves_the_route_hash_in_charge(stand_in_proxy, code):
    port, apps = stand_in_proxy
    route = routes_to(port, apps)
    for index, value in route.items():
        answer = request(port, f"/?class={code}", {"vitviz_route": value})
        assert answer.status == 200 and answer.upstream_port == apps[index]
        assert answer.cookie("vitviz_replica") is None


def test_a_stale_class_cookie_is_expired_and_the_hash_decides(stand_in_proxy):
    port, apps = stand_in_proxy
    route = routes_to(port, apps)
    for stale in ("7", "x", "10"):
        answer = request(port, "/", {"vitviz_route": route[1], "vitviz_replica": stale})
        assert answer.upstream_port == apps[1]
        assert answer.cookie("vitviz_replica") == "vitviz_replica=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
    # a valid code with a stale cookie: the code wins and replaces it
    answer = request(port, "/?class=0ABCD", {"vitviz_route": route[1], "vitviz_replica": "7"})
    assert answer.upstream_port == apps[0] and answer.cookie("vitviz_replica").startswith("vitviz_replica=0;")


# --- the real path: deploy/serve.sh with two app processes -------------------------------------------------

def test_serve_sh_gives_each_process_its_index_and_routes_classes_to_it(tmp_path):
    port, base, _ = free_ports(3)
    run = tmp_path / "run"
    env = {**os.environ, "VITVIZ_RUN_DIR": str(run), "VITVIZ_PORT_BASE": str(base), "PYTHON": sys.executable,
           "HF_HUB_OFFLINE": "1", "VITVIZ_THREADS": "1"}
    serve = subprocess.Popen([str(SERVE), "2", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    apps: list[tuple[int, ...]] = []
    try:
        wait_until(lambda: (run / "apps").exists() and len((run / "apps").read_text().split("\n")) > 2)
        apps = [tuple(int(x) for x in line.split()) for line in (run / "apps").read_text().split("\n") if line]
        assert [p for _, p in apps] == [base, base + 1]
        for _, app_port in apps:  # every process healthy on its own port, before nginx routes to it
            wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{app_port}/_stcore/health",
                                                      timeout=2).status == 200, seconds=120)
        wait_until(lambda: request(port, "/_stcore/health").status == 200)
        # each process knows its index (the first character of the codes of the classes it starts)
        for index, (pid, _) in enumerate(apps):
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert f"VITVIZ_REPLICA={index}".encode() in environ
        one = request(port, "/?class=1ABCD")
        assert one.status == 200 and one.upstream_port == base + 1
        assert one.cookie("vitviz_replica").startswith("vitviz_replica=1;")
        route = one.cookie("vitviz_route").split(";")[0].split("=", 1)[1]
        kept = {"vitviz_route": route, "vitviz_replica": "1"}
        assert request(port, "/", kept).upstream_port == base + 1
        ws = request(port, "/_stcore/stream", kept, websocket=True)  # Streamlit's own websocket accepts
        assert ws.status == 101 and ws.upstream_port == base + 1
        zero = request(port, "/?class=0XYZW", kept)
        assert zero.upstream_port == base and zero.cookie("vitviz_replica").startswith("vitviz_replica=0;")
        hashed = routes_to(port, [base, base + 1])
        assert set(hashed) == {0, 1}
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    for pid, _ in apps:  # stopping serve.sh stopped every app process
        wait_until(lambda: not Path(f"/proc/{pid}").exists() or
                   Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z", seconds=20)


# --- compose.yaml: replicas of the image behind the same configuration ---------------------------------------

sys.path.insert(0, str(ROOT / "deploy"))
import replicas  # noqa: E402  (deploy/replicas.py: standard library only, run before the app in each container)

COMPOSE = ROOT / "compose.yaml"


def test_compose_yaml_agrees_with_the_replicas_the_proxy_and_the_image():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert set(services) == {replicas.SERVICE, "proxy"}
    app, proxy = services[replicas.SERVICE], services["proxy"]
    # replica k is `<project>-app-<k+1>`: the project name the containers are told is compose's own
    assert compose["name"] == "vitviz"
    for service in (app, proxy):
        assert service["environment"]["VITVIZ_COMPOSE_PROJECT"] == "${COMPOSE_PROJECT_NAME:-vitviz}"
        assert service["image"] == app["image"] and service["build"] == "."
    assert replicas.replica_name("vitviz", 0) == "vitviz-app-1"
    # each replica runs the image's own app command, on the port the proxy routes to, as `replicas.py app`
    command = app["command"]
    assert command[:4] == ["python", "deploy/replicas.py", "app", "--"]
    assert command[command.index("--server.port") + 1] == str(replicas.APP_PORT)
    assert app["expose"] == [str(replicas.APP_PORT)]
    dockerfile = (ROOT / "Dockerfile").read_text()
    image_cmd = json.loads(dockerfile.split("\nCMD ", 1)[1].replace("\\\n", ""))
    # the image's own app command, and links (a class's join link) name the port learners reach: the proxy's
    at = command.index("--browser.serverPort")
    assert command[4:at] + command[at + 2:] == image_cmd
    assert proxy["ports"] == [f"${{VITVIZ_LISTEN:-0.0.0.0}}:{command[at + 1]}:{replicas.PROXY_PORT}"]
    assert f"EXPOSE {replicas.APP_PORT} {replicas.PROXY_PORT}" in dockerfile
    # the default number of replicas is one a class code can name
    default = int(app["deploy"]["replicas"].split(":-")[1].rstrip("}"))
    assert 1 <= default <= replicas.MAX_REPLICAS
    # the proxy: nginx on its port, published, and health-checked there
    assert proxy["command"] == ["python", "deploy/replicas.py", "proxy", "--port", str(replicas.PROXY_PORT)]
    assert proxy["ports"] == [f"${{VITVIZ_LISTEN:-0.0.0.0}}:${{VITVIZ_PORT:-8080}}:{replicas.PROXY_PORT}"]
    assert proxy["environment"]["VITVIZ_HEALTH_PORT"] == str(replicas.PROXY_PORT)
    assert "app" in proxy["depends_on"]


def test_a_replica_reads_its_index_from_its_compose_name():
    dns = {"vitviz-app-1": "10.0.0.5", "vitviz-app-2": "10.0.0.7", "vitviz-app-4": "10.0.0.9",
           "vitviz-app-11": "10.0.0.11", "other-app-3": "10.0.0.3"}
    assert replicas.replica_index("vitviz", {"10.0.0.5"}, dns.get) == 0
    assert replicas.replica_index("vitviz", {"127.0.0.1", "10.0.0.9"}, dns.get) == 3
    assert replicas.replica_index("vitviz", {"10.0.0.3"}, dns.get) is None      # another project's
    assert replicas.replica_index("vitviz", {"10.0.0.11"}, dns.get) is None     # an 11th replica has no digit
    # the proxy sees the same names: a gap keeps the others' indices
    assert replicas.replica_addresses("vitviz", dns.get) == ["10.0.0.5:8501", "10.0.0.7:8501", None, "10.0.0.9:8501"]
    assert replicas.replica_addresses("nobody", dns.get) == []


def test_a_replica_without_a_compose_name_refuses_with_a_sentence(monkeypatch, capsys):
    monkeypatch.delenv("VITVIZ_REPLICA", raising=False)
    monkeypatch.setattr(replicas, "replica_index", lambda project, mine: None)
    with pytest.raises(SystemExit) as stopped:
        replicas.run_app(["true"])
    assert stopped.value.code == 2
    assert "vitviz-app-1 ... vitviz-app-10" in capsys.readouterr().err


def wait_for_upstream(port: int, path: str, want: int, seconds: float = 30) -> None:
    wait_until(lambda: request(port, path).upstream_port == want, seconds)


def test_the_proxy_with_real_app_replicas_as_plain_processes(tmp_path):
    """compose.yaml's two roles without containers: `replicas.py app` starts the app (its index given, as DNS
    would), `replicas.py proxy` puts nginx in front of the replicas it is told of."""
    port, *app_ports = free_ports(3)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VITVIZ_THREADS": "1"}
    apps = [subprocess.Popen([sys.executable, str(ROOT / "deploy" / "replicas.py"), "app", "--", sys.executable, "-m",
                              "streamlit", "run", "streamlit_app.py", "--server.address", "127.0.0.1",
                              "--server.port", str(p), "--server.headless", "true", "--server.fileWatcherType", "none",
                              "--browser.gatherUsageStats", "false"],
                             cwd=ROOT, env={**env, "VITVIZ_REPLICA": str(k)}, stdout=subprocess.DEVNULL)
            for k, p in enumerate(app_ports)]
    listed = tmp_path / "replicas"
    listed.write_text("".join(f"127.0.0.1:{p}\n" for p in app_ports))
    proxy = subprocess.Popen([sys.executable, str(ROOT / "deploy" / "replicas.py"), "proxy", "--listen", "127.0.0.1",
                              "--port", str(port), "--replicas-file", str(listed)],
                             env={**env, "VITVIZ_RUN_DIR": str(tmp_path / "run")})
    try:
        for p in app_ports:
            wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{p}/_stcore/health", timeout=2).status == 200,
                       seconds=120)
        wait_until(lambda: request(port, "/_stcore/health").status == 200)
        for k, proc in enumerate(apps):  # exec'd: the app is the process replicas.py was
            assert f"VITVIZ_REPLICA={k}".encode() in Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
        one = request(port, "/?class=1abcd")
        assert one.upstream_port == app_ports[1] and one.cookie("vitviz_replica").startswith("vitviz_replica=1;")
        ws = request(port, "/_stcore/stream", {"vitviz_replica": "1"}, websocket=True)
        assert ws.status == 101 and ws.upstream_port == app_ports[1]
        assert request(port, "/?class=0ABCD").upstream_port == app_ports[0]
    finally:
        proxy.send_signal(signal.SIGTERM)
        for proc in apps:
            proc.terminate()
        for proc in (proxy, *apps):
            proc.wait(timeout=30)
    assert proxy.returncode == 0


def test_the_proxy_follows_replicas_that_come_and_go(tmp_path):
    port, *app_ports = free_ports(4)
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", p), StandIn) for p in app_ports]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    listed = tmp_path / "replicas"
    listed.write_text(f"127.0.0.1:{app_ports[0]}\n127.0.0.1:{app_ports[1]}\n")
    proxy = subprocess.Popen([sys.executable, str(ROOT / "deploy" / "replicas.py"), "proxy", "--listen", "127.0.0.1",
                              "--port", str(port), "--replicas-file", str(listed), "--recheck", "0.2"],
                             env={**os.environ, "VITVIZ_RUN_DIR": str(tmp_path / "run")})
    try:
        wait_for_upstream(port, "/?class=1ABCD", app_ports[1])
        assert request(port, "/?class=2ABCD").cookie("vitviz_replica") is None  # no replica 2 yet
        # scaled to three, then replica 1 gone (a gap): the others keep their indices
        listed.write_text("".join(f"127.0.0.1:{p}\n" for p in app_ports))
        wait_for_upstream(port, "/?class=2ABCD", app_ports[2])
        listed.write_text(f"127.0.0.1:{app_ports[0]}\n-\n127.0.0.1:{app_ports[2]}\n")
        # nginx reloads gracefully: its old workers may answer for a moment after the new ones do, so wait until
        # the new configuration answers alone (40 routed requests reach only the replicas that are left)
        def routed() -> set[int]:
            return {request(port, "/", {"vitviz_route": f"r{n}"}).upstream_port for n in range(40)}

        wait_until(lambda: request(port, "/?class=1ABCD").cookie("vitviz_replica") is None
                   and routed() == {app_ports[0], app_ports[2]})
        assert request(port, "/?class=2ABCD").upstream_port == app_ports[2]
        assert request(port, "/?class=0ABCD").upstream_port == app_ports[0]
        assert routed() == {app_ports[0], app_ports[2]}
        # a list nginx cannot take (eleven replicas) leaves the running configuration as it was
        listed.write_text("".join(f"127.0.0.1:{app_ports[0]}\n" for _ in range(11)))
        time.sleep(1.0)
        assert proxy.poll() is None
        assert request(port, "/?class=2ABCD").upstream_port == app_ports[2]
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(timeout=30)
        for server in servers:
            server.shutdown()
            server.server_close()
    assert proxy.returncode == 0
