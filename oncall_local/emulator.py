"""The embedded DynamoDB: moto's server on loopback, one request at a time.

moto is not atomic under concurrency: two conditional writes can both pass, and
a failed TransactWriteItems restores a copy of the table that erases other
clients' writes. Serializing every request behind one lock gives back
DynamoDB's semantics (each request sees and leaves a consistent table); the
rules moto counts or ignores differently are in oncall_local/dynamodb_rules.py.
"""

import threading

from moto.core.model_instances import reset_model_data
from moto.dynamodb.models.table import StreamShard
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from oncall_local import dynamodb_rules


class Serialized:
    """WSGI middleware that lets one request at a time into the wrapped app."""

    def __init__(self, app) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self._lock:
            # Drain the body inside the lock: moto reads the whole response lazily.
            body = b"".join(self._app(environ, start_response))
            # moto keeps every object it ever built for its dashboard; without this
            # a long-running server grows without bound and slows down.
            reset_model_data()
            return [body]


def keep_no_stream_records() -> None:
    """Tables keep their stream settings, but no records are kept.

    In AWS the incidents table's stream wakes the notification function; locally a
    timer does (oncall_local/server.py) and nothing reads a stream. moto would
    serialize every incident write into a record list that only grows, which cost
    a third of the local throughput in bench/storm.py."""
    StreamShard.add = lambda shard, old, new: None


class Emulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        dynamodb_rules.install()
        keep_no_stream_records()
        app = Serialized(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(host, port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="dynamodb-emulator", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "Emulator":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
