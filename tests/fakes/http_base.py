"""The plumbing every fake server shares: a quiet threading HTTP server whose handler hands every
request to the fake's `handle(handler, method)`, starting and stopping servers, and a JSON reply helper."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# How often a serving loop looks for a shutdown request: every fake's exit waits up to this long.
POLL_S = 0.01


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler sleeping through a scripted slow reply must not hold up shutdown
    fake: Any

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        pass  # clients that time out and hang up are part of the script


def start(*servers: ThreadingHTTPServer) -> None:
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True).start()


def stop(*servers: ThreadingHTTPServer) -> None:
    """Shut the servers down together (each waits for its loop to notice), then close them."""
    waits = [threading.Thread(target=server.shutdown) for server in servers]
    for wait in waits:
        wait.start()
    for wait in waits:
        wait.join()
    for server in servers:
        server.server_close()


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real gateways do; every reply carries Content-Length
    server: QuietServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        try:
            self.server.fake.handle(self, method)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def send_json(h: BaseHTTPRequestHandler, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(payload)))
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(payload)


class LocalFake:
    """A fake service on 127.0.0.1 whose every request reaches its `handle(handler, method)`:
    `with Fake(...) as fake: fake.base_url` (with the service's path prefix, e.g. `/v1`)."""

    path_prefix = "/v1"

    def _listen(self) -> None:
        self.server = QuietServer(("127.0.0.1", 0), FakeHandler)
        self.server.fake = self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path_prefix}"

    def __enter__(self):  # noqa: ANN204 - the subclass
        start(self.server)
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.server)
