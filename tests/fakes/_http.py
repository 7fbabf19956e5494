"""A small threaded HTTP server that the fake PSPs build on.

It records every request, and can inject one-shot faults: an HTTP error returned before the
operation runs (``fail_next``), or a response held back after the operation ran (``timeout_next``)
so the client times out although the PSP acted, which is the case a payment system must survive.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: Any
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Fault:
    kind: str  # "fail" or "hold"
    status: int = 500
    seconds: float = 30.0
    # Only requests whose path matches this regex (re.search) are affected; None: any request.
    path: str | None = None


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """Subclasses implement ``handle`` and ``error_response``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

            def do_PUT(self) -> None:
                fake._serve(self, "PUT")

            def do_DELETE(self) -> None:
                fake._serve(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def host(self) -> str:
        assert self._server is not None, "fake server not started"
        return self._server.server_address[0]

    @property
    def port(self) -> int:
        assert self._server is not None, "fake server not started"
        return self._server.server_address[1]

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host_port}"

    def reset(self) -> None:
        """Forget requests and faults, and let any held request go."""
        with self.lock:
            self._release.set()
            self._release = threading.Event()
            self._faults.clear()
            self.requests.clear()
            self.reset_state()

    def reset_state(self) -> None:
        pass

    # --- fault controls -----------------------------------------------------------------------

    def fail_next(self, status: int = 500, *, path: str | None = None) -> None:
        """Answer the next request (whose path matches ``path``) with an HTTP error, without
        performing it."""
        with self.lock:
            self._faults.append(Fault("fail", status=status, path=path))

    def timeout_next(self, seconds: float = 30.0, *, path: str | None = None) -> None:
        """Perform the next request (whose path matches ``path``) but hold its answer back for
        ``seconds`` or until reset/stop, so the client times out although the PSP acted."""
        with self.lock:
            self._faults.append(Fault("hold", seconds=seconds, path=path))

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    # --- subclass hooks -----------------------------------------------------------------------

    def parse_params(self, method: str, query: str, body: bytes, headers: dict[str, str]) -> Any:
        return None

    def handle(self, req: RecordedRequest) -> Response:
        raise NotImplementedError

    def error_response(self, status: int) -> Response:
        raise NotImplementedError

    # --- plumbing -----------------------------------------------------------------------------

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.path is None or re.search(fault.path, path):
                    self._faults.remove(fault)
                    return fault
        return None

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k: v for k, v in handler.headers.items()}
        try:
            params = self.parse_params(method, url.query, body, headers)
        except Exception:  # malformed input is the client's problem, answered as a 400
            params = None
        req = RecordedRequest(method, url.path, params, headers, body)
        with self.lock:
            self.requests.append(req)
            release = self._release
        fault = self._take_fault(url.path)
        if fault is not None and fault.kind == "fail":
            response = self.error_response(fault.status)
        else:
            with self.lock:
                response = self.handle(req)
        if fault is not None and fault.kind == "hold":
            release.wait(fault.seconds)
        try:
            handler.send_response(response.status)
            handler.send_header("Content-Type", response.content_type)
            handler.send_header("Content-Length", str(len(response.body)))
            for key, value in response.headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting, as intended by timeout_next
