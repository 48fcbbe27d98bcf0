"""Real HTTP receivers for outbound notifications: a ThreadingHTTPServer on a free
loopback port that records every request and answers the status codes it was told
to for its first requests (200 after that); a Trickler, which answers one byte at a
time for ever; and a Banner, a service that is not HTTP at all."""

import hashlib
import hmac
import json
import socket
import ssl
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
    """`Receiver(fail_with=[500, 500])` answers 500 to its first two requests, then 200
    (with `reply` as the body: `{"ok": true}`, as Slack's API says it).
        `before_answer(n)`, if given, runs in the handler for the n-th request (from 1),
        after it is recorded and before it is answered (to model a slow answer).
        Use as a context manager, or call start() and stop()."""

    def __init__(
        self,
        fail_with=(),
        before_answer: Callable[[int], None] | None = None,
        *,
        host: str = HOST,
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        reply: bytes = b'{"ok": true}',
    ) -> None:
        self._answers = list(fail_with)
        self._reply = reply
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

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # e.g. a TLS handshake the sender broke off: what arrived is what counts

        self._server = Server((host, port), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://{host}:{self.port}/hooks/incoming"
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
        reply = self._reply if status < 300 else b'{"error": "told to fail"}'
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


def _read_request(conn: socket.socket) -> bytes:
    """A request's head and body (by its Content-Length), or what came before EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class _RawServer:
    """A TCP server on a free loopback port with a thread per connection, calling
    `serve(conn, number)` for each; records when connections arrive and close."""

    def __init__(self) -> None:
        self._listener = socket.create_server((HOST, 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}/hooks/incoming"
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.stopping = threading.Event()
        self.requests: list[bytes] = []
        self.arrived: list[float] = []
        self.closed: list[float] = []  # when the sender closed its end (time.monotonic())
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(conn)
                number = len(self._connections)
            threading.Thread(target=self._serve_one, args=(conn, number), daemon=True).start()

    def _serve_one(self, conn: socket.socket, number: int) -> None:
        try:
            request = _read_request(conn)
            with self._lock:
                self.requests.append(request)
                self.arrived.append(time.monotonic())
                self._changed.notify_all()
            self.serve(conn, number)
        except OSError:
            self._note_closed()
        finally:
            conn.close()

    def serve(self, conn: socket.socket, number: int) -> None:
        raise NotImplementedError

    @property
    def connections(self) -> int:
        """How many connections were accepted."""
        with self._lock:
            return len(self._connections)

    def _note_closed(self) -> None:
        with self._lock:
            self.closed.append(time.monotonic())
            self._changed.notify_all()

    def _wait(self, what: list, count: int, timeout: float) -> list:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(what) < count and time.monotonic() < deadline:
                self._changed.wait(min(0.1, max(deadline - time.monotonic(), 0)))
            return list(what)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[float]:
        """When each of the first `count` requests arrived (fewer if the time ran out)."""
        return self._wait(self.arrived, count, timeout)

    def wait_closed(self, count: int, timeout: float = 10.0) -> list[float]:
        """When the sender closed each of the first `count` connections (fewer if the time ran out)."""
        return self._wait(self.closed, count, timeout)

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        # Closing the listener does not wake a thread blocked in accept() on it (Linux), so
        # the join below waited out its 5 s; shutting it down does.
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for conn in self._connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Trickler(_RawServer):
    """Takes a request, then answers it one byte every `every` seconds and never
    finishes: the status line, then one header line that never ends. Notes when the
    sender closes the connection. `heal()` makes later connections answer 200 at once."""

    ANSWER = b"HTTP/1.1 200 OK\r\nX-Trickle: "

    def __init__(self, every: float = 0.5) -> None:
        super().__init__()
        self._every = every
        self.healed = False

    def heal(self) -> None:
        self.healed = True

    def serve(self, conn: socket.socket, number: int) -> None:
        if self.healed:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        sent = 0
        conn.settimeout(self._every)
        while not self.stopping.is_set():
            byte = self.ANSWER[sent : sent + 1] or b"."
            conn.sendall(byte)
            sent += 1
            try:
                if conn.recv(1) == b"":  # the sender closed its end
                    self._note_closed()
                    return
            except TimeoutError:
                continue

    def bodies(self) -> list:
        with self._lock:
            return [json.loads(request.partition(b"\r\n\r\n")[2]) for request in self.requests]


class Banner(_RawServer):
    """A service that is not HTTP: it reads the request, writes `banner` and closes."""

    def __init__(self, banner: bytes) -> None:
        super().__init__()
        self._banner = banner

    def serve(self, conn: socket.socket, number: int) -> None:
        conn.sendall(self._banner)
