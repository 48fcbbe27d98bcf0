"""Real HTTP receivers for outbound notifications: a ThreadingHTTPServer on a free
loopback port that records every request and answers the status codes it was told
to for its first requests (200 after that)."""

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    answered: int  # the status this receiver answered
    at: float = 0.0  # time.monotonic() when it arrived

    def json(self):
        return json.loads(self.body)

    @property
    def ok(self) -> bool:
        return 200 <= self.answered < 300


class Receiver:
    """`Receiver(fail_with=[500, 500])` answers 500 to its first two requests, then 200.
    `before_answer(n)`, if given, runs in the handler for the n-th request (from 1),
    after it is recorded and before it is answered (to model a slow answer).
    Use as a context manager, or call start() and stop()."""

    def __init__(self, fail_with=(), before_answer: Callable[[int], None] | None = None) -> None:
        self._answers = list(fail_with)
        self._before_answer = before_answer
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                receiver._handle(self)

            do_GET = do_PUT = do_POST  # noqa: N815

            def handle(self):
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (a timeout test)

            def log_message(self, format, *args):  # quiet
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{HOST}:{self._server.server_address[1]}/hooks/incoming"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            status = self._answers.pop(0) if self._answers else 200
            self.received.append(
                Received(
                    handler.command,
                    handler.path,
                    {name.lower(): value for name, value in handler.headers.items()},
                    body,
                    status,
                    time.monotonic(),
                )
            )
            number = len(self.received)
            self._arrived.notify_all()
        if self._before_answer is not None:
            self._before_answer(number)
        reply = b'{"ok": true}' if status < 300 else b'{"error": "told to fail"}'
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(reply)))
        if 300 <= status < 400:
            handler.send_header("Location", "http://127.0.0.1:9/elsewhere")
        handler.end_headers()
        handler.wfile.write(reply)

    def start(self) -> "Receiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- what arrived ---

    def all(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def accepted(self) -> list[Received]:
        """The requests this receiver answered with a 2xx: the messages it took."""
        return [request for request in self.all() if request.ok]

    def bodies(self) -> list:
        return [request.json() for request in self.accepted()]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until at least `count` requests arrived (of any outcome)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(min(left, 0.2))
            return list(self.received)


def closed_port_url() -> str:
    """A loopback URL on a port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    return f"http://{HOST}:{port}/nobody-home"


def verify_webhook(secret: str, request: Received) -> bool:
    """The receiver's check of X-Oncall-Signature, written from the documented scheme:
    "sha256=" + hex HMAC-SHA256(secret, "<timestamp>." + body)."""
    timestamp = request.headers.get("x-oncall-timestamp", "")
    expected = (
        "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(expected, request.headers.get("x-oncall-signature", ""))
