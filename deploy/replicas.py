"""compose.yaml's two roles: an app replica that knows its index, and the nginx proxy in front of the replicas.

Compose names the containers of a scaled service `<project>-app-1`, `<project>-app-2`, ... and its network's DNS
resolves those names, so both sides find the replicas the same way, with no list to keep by hand:

    python deploy/replicas.py app -- python -m streamlit run ...   # VITVIZ_REPLICA=k-1 in `<project>-app-k`
    python deploy/replicas.py proxy                                 # nginx on :8080 in front of every replica

The replica's index is the first character of the codes of the classes it starts (vitviz/classroom.py), and the
proxy routes a join link's code to that replica (deploy/nginx.conf.template): so at most 10 replicas. The proxy
looks the names up again every few seconds and reloads nginx when a replica came, went or changed its address
(`docker compose up -d --scale app=4`, a restarted container). Standard library only: it runs before the app.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

MAX_REPLICAS = 10      # a class code names its replica with one digit
SERVICE = "app"        # compose.yaml's service of app replicas
APP_PORT = 8501        # each replica's Streamlit port (compose.yaml's command)
PROXY_PORT = 8080      # nginx's port in its container (compose.yaml publishes it)
RECHECK_S = 5.0        # how often the proxy looks the replicas up again
DEPLOY = Path(__file__).resolve().parent

Resolve = Callable[[str], "str | None"]


def resolve_ipv4(name: str) -> str | None:
    """The IPv4 address DNS gives `name`, or None when it names nothing (a replica that is not running)."""
    try:
        return socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except (socket.gaierror, IndexError):
        return None


def own_addresses() -> set[str]:
    """This container's IPv4 addresses (Docker writes the container's address for its hostname in /etc/hosts)."""
    try:
        return {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    except socket.gaierror:
        return set()


def replica_name(project: str, k: int) -> str:
    """Compose's name (and DNS name) of the replica with index k: `<project>-app-<k+1>`."""
    return f"{project}-{SERVICE}-{k + 1}"


def replica_index(project: str, mine: set[str], resolve: Resolve = resolve_ipv4) -> int | None:
    """The index k of the replica whose name resolves to one of this container's addresses, or None."""
    for k in range(MAX_REPLICAS):
        address = resolve(replica_name(project, k))
        if address is not None and address in mine:
            return k
    return None


def replica_addresses(project: str, resolve: Resolve = resolve_ipv4) -> list[str | None]:
    """`ip:port` of replica 0..9, None where none runs (a gap keeps the others' indices)."""
    found = [resolve(replica_name(project, k)) for k in range(MAX_REPLICAS)]
    while found and found[-1] is None:
        found.pop()
    return [f"{ip}:{APP_PORT}" if ip else None for ip in found]


def listed_addresses(path: Path) -> list[str | None]:
    """Replicas listed by hand (other hosts, or plain processes): one `host:port` a line for index 0, 1, ...,
    `-` where none runs."""
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return [None if line == "-" else line for line in lines][:MAX_REPLICAS + 1]


class ConfigError(RuntimeError):
    """The replicas give no configuration nginx accepts (more than 10, none, an address nginx refuses)."""


def write_config(run: Path, listen: str, port: int, addresses: Sequence[str | None]) -> Path:
    """nginx.conf for these replicas (deploy/nginx_conf.sh, as serve.sh makes it), tested with `nginx -t`; the
    file is replaced only when the test passes."""
    made = subprocess.run([str(DEPLOY / "nginx_conf.sh"), str(run), listen, str(port), *[a or "-" for a in addresses]],
                          capture_output=True, text=True)
    if made.returncode != 0:
        raise ConfigError(made.stderr.strip())
    trial = run / "nginx.conf.new"
    trial.write_text(made.stdout)
    tested = subprocess.run([nginx(), "-t", "-q", "-e", str(run / "nginx_error.log"), "-c", str(trial), "-p", str(run)],
                            capture_output=True, text=True)
    if tested.returncode != 0:
        raise ConfigError(tested.stderr.strip())
    return trial.replace(run / "nginx.conf")


def nginx() -> str:
    return os.environ.get("NGINX") or next((p for p in ("/usr/sbin/nginx", "/usr/bin/nginx") if Path(p).exists()),
                                           "nginx")


def run_app(command: list[str]) -> None:
    """Exec `command` with VITVIZ_REPLICA set to this replica's index (kept when already set)."""
    if not command:
        sys.exit("vitviz replica: no command to run (deploy/replicas.py app -- COMMAND...)")
    if "VITVIZ_REPLICA" not in os.environ:
        project = os.environ.get("VITVIZ_COMPOSE_PROJECT", "vitviz")
        k = replica_index(project, own_addresses())
        if k is None:
            print(f"vitviz replica: this container is none of {replica_name(project, 0)} ... "
                  f"{replica_name(project, MAX_REPLICAS - 1)}: start it with compose.yaml "
                  f"(at most {MAX_REPLICAS} replicas), or set VITVIZ_REPLICA", file=sys.stderr)
            sys.exit(2)
        os.environ["VITVIZ_REPLICA"] = str(k)
    print(f"vitviz replica {os.environ['VITVIZ_REPLICA']}", flush=True)
    os.execvp(command[0], command)


def run_proxy(listen: str, port: int, find: Callable[[], list[str | None]], recheck_s: float = RECHECK_S) -> int:
    """nginx in front of the replicas `find` names; reloaded (gracefully) when they change. Returns nginx's status."""
    run = Path(os.environ.get("VITVIZ_RUN_DIR") or f"/tmp/vitviz_proxy_{os.getpid()}")
    run.mkdir(parents=True, exist_ok=True)
    addresses = find()
    while not any(addresses):  # the replicas start with the proxy: wait for the first one
        print("vitviz proxy: no replica running yet", flush=True)
        time.sleep(recheck_s)
        addresses = find()
    try:
        write_config(run, listen, port, addresses)
    except ConfigError as e:
        print(f"vitviz proxy: {e}", file=sys.stderr)
        return 2
    proc = subprocess.Popen([nginx(), "-e", str(run / "nginx_error.log"), "-c", str(run / "nginx.conf"), "-p", str(run)])
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    signal.signal(signal.SIGINT, lambda *_: proc.terminate())
    print(f"vitviz proxy: {len([a for a in addresses if a])} replicas behind {listen}:{port}: {addresses}", flush=True)
    refused: list[str | None] | None = None
    while proc.poll() is None:
        time.sleep(recheck_s)
        now = find()
        if now != addresses and now != refused and any(now) and proc.poll() is None:
            try:
                write_config(run, listen, port, now)
            except ConfigError as e:
                print(f"vitviz proxy: replicas {now} refused, keeping {addresses}: {e}", flush=True)
                refused = now
                continue
            proc.send_signal(signal.SIGHUP)  # nginx reloads: open connections finish on the old workers
            addresses = now
            print(f"vitviz proxy: replicas now {addresses}", flush=True)
    return proc.returncode or 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="role", required=True)
    app = sub.add_parser("app", help="run COMMAND as this replica (VITVIZ_REPLICA from its compose name)")
    app.add_argument("command", nargs=argparse.REMAINDER)
    proxy = sub.add_parser("proxy", help="nginx in front of the replicas")
    proxy.add_argument("--listen", default=os.environ.get("VITVIZ_LISTEN", "0.0.0.0"))
    proxy.add_argument("--port", type=int, default=PROXY_PORT)
    proxy.add_argument("--replicas-file", type=Path, default=os.environ.get("VITVIZ_REPLICAS_FILE") or None,
                       help="list the replicas by hand (one host:port a line) instead of by their compose names")
    proxy.add_argument("--recheck", type=float, default=RECHECK_S, help="seconds between look-ups")
    args = parser.parse_args(argv)
    if args.role == "app":
        run_app(args.command[1:] if args.command[:1] == ["--"] else args.command)
    project = os.environ.get("VITVIZ_COMPOSE_PROJECT", "vitviz")
    find = (lambda: listed_addresses(args.replicas_file)) if args.replicas_file else \
        (lambda: replica_addresses(project))
    sys.exit(run_proxy(args.listen, args.port, find, args.recheck))


if __name__ == "__main__":
    main()
