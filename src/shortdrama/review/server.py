"""`shortdrama review --serve`: the review page served with controls that pick a take, ask for a retake
with a note, approve a keyframe or a script, edit one dialogue line or action, and start a rebuild
whose progress shows in the page. Standard library HTTP (ThreadingHTTPServer); plain HTML/CSS/JS from
the page's template.

Who can do what:

- It listens on 127.0.0.1 (`review.host`, `review.port`; port 0 is a free one). Any other address
  in the configuration is refused; `--host ADDR` on the command line means it.
- Each run has a token (`secrets.token_urlsafe(32)`). The address it prints carries it once
  (`/review/?token=...`); the server answers with a cookie for this port (HttpOnly, SameSite=Strict)
  and every GET then needs that cookie, so other users of the machine and pages of other sites
  read nothing. The page carries the token in a meta tag and every POST must send it as
  `X-Review-Token` (compared in constant time): 403 otherwise.
- A request whose Host header is not this server's address and port is refused (DNS rebinding), and
  so is a POST whose Origin (or Sec-Fetch-Site) says another site sent it.
- The client never names a file. Its episode, scene, take and line must exist in the series (400
  with one line otherwise); the server writes only the series' decisions file and its episodes'
  script.json, checked against that allow-list right before each write (shortdrama.review.edits does
  the atomic, locked writes). Files are served from results/<series>/ only: no `..`, no hidden
  files, nothing that resolves (through links) outside it; single byte ranges give 206.
- One rebuild at a time (409 while one runs), `shortdrama build` with the page's overrides; script
  edits wait for it to finish (409), decisions do not (the next build reads them).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import secrets
import signal
import socket
import socketserver
import sys
import threading
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence
from urllib.parse import parse_qs, urlsplit

from ..errors import ShortDramaError, UsageError
from .site import PAGE_PATH, TOKEN_HEADER, Refused, ReviewSite

if TYPE_CHECKING:
    from ..workflow import Workflow

MAX_BODY = 64 * 1024
CHUNK = 256 * 1024
TYPES = {".mp4": "video/mp4", ".png": "image/png", ".jpg": "image/jpeg", ".vtt": "text/vtt; charset=utf-8",
         ".srt": "text/plain; charset=utf-8", ".json": "application/json", ".jsonl": "text/plain; charset=utf-8",
         ".log": "text/plain; charset=utf-8", ".yaml": "text/plain; charset=utf-8", ".wav": "audio/wav",
         ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8"}


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The single range `header` asks of a file of `size` bytes, as (first, last) inclusive; None for the
    whole file (no header, another unit, several ranges, or a malformed one, which RFC 9110 says to
    ignore); 416 when it starts past the end."""
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header or "")
    if not match or not (match[1] or match[2]):
        return None
    if not match[1]:  # the last N bytes
        suffix = int(match[2])
        if suffix == 0 or size == 0:
            raise Refused(416, "range not satisfiable", {"Content-Range": f"bytes */{size}"})
        return max(0, size - suffix), size - 1
    first = int(match[1])
    last = min(int(match[2]), size - 1) if match[2] else size - 1
    if match[2] and int(match[2]) < first:
        return None
    if first >= size:
        raise Refused(416, "range not satisfiable", {"Content-Range": f"bytes */{size}"})
    return first, last


class _Handler(BaseHTTPRequestHandler):
    server: "ReviewServer"
    protocol_version = "HTTP/1.1"
    server_version, sys_version = "shortdrama-review", ""
    timeout = 120

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if self.server.verbose:
            super().log_message(format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).isdigit() and int(code) >= 400:  # refusals only: a seeking player asks many ranges
            super().log_request(code, size)

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._answer(lambda: self._get(head=False))

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(lambda: self._get(head=True))

    def do_POST(self) -> None:  # noqa: N802
        self._answer(self._post)

    def _answer(self, handle: Callable[[], None]) -> None:
        try:
            if not self.server.host_allowed(self.headers.get("Host", "")):
                raise Refused(403, "unknown Host: open the address `shortdrama review --serve` printed")
            handle()
        except Refused as refused:
            self._error(refused.status, refused.message, refused.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except ShortDramaError as error:
            self._error(400 if self.command == "POST" else 500, str(error))
        except Exception as error:  # noqa: BLE001 - one line to the page, the trace to the terminal
            self.log_error("%s", f"{type(error).__name__}: {error}")
            self._error(500, f"internal error: {type(error).__name__}: {error}")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None,
              head: bool = False) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": content_type, "Content-Length": str(len(body)),
                            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                            "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json", headers)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self.close_connection = True  # a request body left unread must not be read as the next request
        if urlsplit(self.path).path.startswith("/api/"):
            self._json(status, {"ok": False, "error": message}, headers)
        else:
            self._send(status, f"{status} {HTTPStatus(status).phrase}: {message}\n".encode(),
                       "text/plain; charset=utf-8", headers, head=self.command == "HEAD")

    # -- GET ------------------------------------------------------------------------------------------
    def _cookie(self) -> str | None:
        from http.cookies import CookieError, SimpleCookie

        try:
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
        except CookieError:
            return None
        morsel = cookie.get(self.server.cookie_name)
        return morsel.value if morsel else None

    def _get(self, head: bool) -> None:
        url = urlsplit(self.path)
        given = parse_qs(url.query).get("token")
        if given:  # the printed address: trade the token for this port's cookie
            if not self.server.token_ok(given[0]):
                raise Refused(403, "wrong token: open the address this run of `shortdrama review --serve` printed")
            cookie = f"{self.server.cookie_name}={self.server.site.token}; Path=/; HttpOnly; SameSite=Strict"
            self._send(303, b"", "text/plain", {"Location": PAGE_PATH, "Set-Cookie": cookie}, head=True)
            return
        if not self.server.token_ok(self._cookie()):
            raise Refused(403, "open the address `shortdrama review --serve` printed (it carries this run's token)")
        if url.path in ("", "/", "/review"):
            self._send(302, b"", "text/plain", {"Location": PAGE_PATH}, head=True)
        elif url.path in (PAGE_PATH, PAGE_PATH + "index.html"):
            nonce = secrets.token_urlsafe(16)
            csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self' data:; "
                   "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
            self._send(200, self.server.site.page(nonce).encode(), "text/html; charset=utf-8",
                       {"Content-Security-Policy": csp}, head=head)
        elif url.path == "/api/rebuild":
            self._json(200, self.server.site.rebuild.status())
        else:
            self._file(self.server.site.static(url.path), head)

    def _file(self, path: Path, head: bool) -> None:
        stat = path.stat()
        size, etag = stat.st_size, f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
        headers = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": "no-cache",
                   "Last-Modified": formatdate(stat.st_mtime, usegmt=True)}
        if self.headers.get("If-None-Match") == etag and "Range" not in self.headers:
            self._send(304, b"", TYPES.get(path.suffix.lower(), "application/octet-stream"), headers, head=True)
            return
        wanted = self.headers.get("Range")
        if self.headers.get("If-Range") not in (None, etag):
            wanted = None  # the file changed since the client's copy: send it whole
        span = byte_range(wanted, size) if wanted else None
        first, last = span if span else (0, size - 1)
        self.send_response(206 if span else 200)
        headers.update({"Content-Type": TYPES.get(path.suffix.lower(), "application/octet-stream"),
                        "Content-Length": str(last - first + 1), "X-Content-Type-Options": "nosniff"})
        if span:
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if head:
            return
        with open(path, "rb") as handle:
            handle.seek(first)
            left = last - first + 1
            while left > 0 and (chunk := handle.read(min(CHUNK, left))):
                self.wfile.write(chunk)
                left -= len(chunk)

    # -- POST -----------------------------------------------------------------------------------------
    def _post(self) -> None:
        origin, fetch_site = self.headers.get("Origin"), self.headers.get("Sec-Fetch-Site")
        if (origin is not None and origin != f"http://{self.headers.get('Host', '')}") or (
                fetch_site is not None and fetch_site not in ("same-origin", "none")):
            raise Refused(403, "a request from another site")
        if not self.server.token_ok(self.headers.get(TOKEN_HEADER)):
            raise Refused(403, f"missing or wrong {TOKEN_HEADER}: reload the page")
        path = urlsplit(self.path).path
        if not path.startswith("/api/"):
            raise Refused(404, "not found")
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            raise Refused(415, "send JSON (Content-Type: application/json)")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise Refused(411, "Content-Length is required") from None
        if not 0 <= length <= MAX_BODY:
            raise Refused(413, f"a request body is at most {MAX_BODY} bytes")
        try:
            payload = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, "the body is not JSON") from None
        status, answer = self.server.site.act(path.removeprefix("/api/"), payload)
        self._json(status, answer)


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: ReviewSite, host: str, port: int, verbose: bool = False) -> None:
        self.site, self.verbose, self.host = site, verbose, host
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)
        self.thread: threading.Thread | None = None
        self.cookie_name = f"shortdrama_review_{self.server_port}"  # cookies ignore ports: one per server
        name = host.strip("[]").lower()
        self._names = {name} | ({"localhost"} if _loopback(host) else set()) | (
            {"127.0.0.1", "::1"} if name == "localhost" else set())
        self._any_ip = name in ("0.0.0.0", "::", "")

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # HTTPServer's would look the host name up (slow, pointless)
        self.server_name, self.server_port = self.host, self.server_address[1]

    @property
    def base_url(self) -> str:
        shown = "127.0.0.1" if self._any_ip else self.host
        return f"http://{f'[{shown}]' if ':' in shown else shown}:{self.server_port}{PAGE_PATH}"

    @property
    def url(self) -> str:
        """The page's address with this run's token (the first visit trades it for a cookie)."""
        return f"{self.base_url}?token={self.site.token}"

    def token_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.site.token.encode())

    def host_allowed(self, header: str) -> bool:
        """The Host header names this server: its address (or `localhost` for a loopback one; any IP
        literal for a wildcard bind, never a DNS name another site could point here) and its port."""
        match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]/@\s]+):(\d{1,5})", header.strip())
        if not match or int(match[2]) != self.server_port:
            return False
        name = match[1].strip("[]").lower()
        if name in self._names:
            return True
        return self._any_ip and _is_ip(name)

    def start(self) -> "ReviewServer":
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="review-server", daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        if self.thread is not None:
            self.shutdown()
        self.server_close()
        self.site.rebuild.stop()


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    return name == "localhost" or (_is_ip(name) and ipaddress.ip_address(name).is_loopback)


def listen_address(wf: "Workflow", host: str | None, port: int | None) -> tuple[str, int]:
    """Where to listen: `--host`/`--port` as given, else review.host/review.port, which must be loopback."""
    configured = wf.cfg.review.host
    if host is None and not _loopback(configured):
        raise UsageError(f"review.host={configured} is not a loopback address, and the served page can change "
                         f"the decisions and scripts: pass `--host {configured}` to mean it")
    return host or configured, wf.cfg.review.port if port is None else port


def start(wf: "Workflow", overrides: Sequence[str], host: str | None = None, port: int | None = None,
          command: Sequence[str] | None = None, verbose: bool = False) -> ReviewServer:
    """Serve the review page in a background thread and return at once (`.url`, `.close()`). `command`
    replaces `shortdrama build` as what the page's rebuild runs (tests)."""
    address, number = listen_address(wf, host, port)
    site = ReviewSite(wf, overrides, command)
    site.page("check")  # a series with nothing to review stops here, with its one line
    try:
        server = ReviewServer(site, address, number, verbose)
    except OSError as error:
        raise UsageError(f"cannot listen on {address}:{number}: {error.strerror or error}") from None
    return server.start()


def serve(wf: "Workflow", overrides: Sequence[str], host: str | None = None, port: int | None = None,
          open_browser: bool = False) -> int:
    """Serve until Ctrl-C (the CLI)."""
    server = start(wf, overrides, host, port, verbose=True)
    print(f"shortdrama review: serving {wf.paths.root} (decisions: {server.site.decisions}) at\n  {server.url}\n"
          "open it in a browser (the token in it is this run's); Ctrl-C stops", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)  # `kill` stops it as Ctrl-C does: the rebuild too
    try:
        while server.thread is not None and server.thread.is_alive():
            server.thread.join(0.5)
    except KeyboardInterrupt:
        print("shortdrama review: stopped", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
    return 0


def review_command(wf: "Workflow", serve_it: bool, host: str | None, port: int | None,
                   overrides: Sequence[str]) -> int:
    """`shortdrama review`: write the static page, or with --serve serve it with its controls."""
    if not serve_it:
        if host is not None or port is not None:
            raise UsageError("--host and --port go with --serve")
        from .page import write_page

        print(write_page(wf))
        return 0
    return serve(wf, overrides, host, port)
