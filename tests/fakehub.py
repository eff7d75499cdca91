"""A stand-in for the Hugging Face hub on 127.0.0.1: serves one weights file, or misbehaves on purpose.

Modes: "ok" (answers like the hub), "hang" (accepts connections and never answers), "drop" (sends
half of the weights file, then closes the connection, and closes every later download request unanswered). A refused connection needs no server:
``free_port()`` gives a port nobody listens on; ``FakeHub(..., port=that_port)`` brings the hub up there later.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeHub:
    def __init__(self, payload: bytes, mode: str = "ok", port: int = 0) -> None:
        self.payload = payload
        self.mode = mode
        self.requests: list[str] = []
        self._stop = threading.Event()
        if mode == "hang":
            self._sock = socket.socket()
            self._sock.bind(("127.0.0.1", port))
            self._sock.listen(16)
            self.port = self._sock.getsockname()[1]
            self._held: list[socket.socket] = []
            threading.Thread(target=self._accept_forever, daemon=True).start()
        else:
            hub = self

            class Handler(BaseHTTPRequestHandler):
                def log_message(self, *args):
                    pass

                def _headers(self, length: int) -> None:
                    sha = hashlib.sha256(hub.payload).hexdigest()
                    self.send_header("X-Repo-Commit", COMMIT)
                    self.send_header("ETag", f'"{sha}"')
                    self.send_header("X-Linked-Etag", f'"{sha}"')
                    self.send_header("X-Linked-Size", str(len(hub.payload)))
                    self.send_header("Content-Length", str(length))
                    self.send_header("Content-Type", "application/octet-stream")
                    self.end_headers()

                def do_HEAD(self):
                    hub.requests.append(f"HEAD {self.path}")
                    if "/resolve/" in self.path:
                        self.send_response(200)
                        self._headers(len(hub.payload))
                    else:
                        self.send_response(200)
                        self.send_header("Content-Length", "2")
                        self.end_headers()

                def do_GET(self):
                    hub.requests.append(f"GET {self.path}")
                    if "/resolve/" in self.path:
                        if hub.mode == "drop" and any(r.startswith("GET") and "/resolve/" in r
                                                      for r in hub.requests[:-1]):
                            self.close_connection = True  # the network is gone: no answer at all
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        self.send_response(200)
                        self._headers(len(hub.payload))
                        if hub.mode == "drop":
                            self.wfile.write(hub.payload[: len(hub.payload) // 2])
                            self.wfile.flush()
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        self.wfile.write(hub.payload)
                    else:
                        body = b"{}"
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)

            self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            self._server.daemon_threads = True
            self.port = self._server.server_address[1]
            threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _accept_forever(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
                self._held.append(conn)  # never answered
            except OSError:
                continue

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        if self.mode == "hang":
            for c in self._held:
                c.close()
            self._sock.close()
        else:
            self._server.shutdown()
            self._server.server_close()


def count_probes(monkeypatch) -> list[str]:
    """Record every probe of the hub, by repo id (the real probe still runs)."""
    from vitviz.model import hub

    seen: list[str] = []
    real = hub.probe

    def counting(repo_id, *args, **kwargs):
        seen.append(repo_id)
        return real(repo_id, *args, **kwargs)
    monkeypatch.setattr(hub, "probe", counting)
    return seen
