"""The embedded DynamoDB: moto's server on loopback, one request at a time.

moto is not atomic under concurrency: two conditional writes can both pass, and
a failed TransactWriteItems restores a copy of the table that erases other
clients' writes. Serializing every request behind one lock gives back
DynamoDB's semantics (each request sees and leaves a consistent table).
"""

import copy
import functools
import threading

from moto.core.model_instances import reset_model_data
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import StreamShard, Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


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


def roll_back_touched_items_only() -> None:
    """Make a TransactWriteItems cost what it writes, not what the tables hold.

    moto backs up every table a transaction names with a deep copy, so each
    transaction takes time in proportion to the whole table and the local server
    slows down as history grows. Behind the lock nothing else runs during the
    transaction, so saving just the items it names is enough to roll back.
    """
    original = DynamoDBBackend.transact_write_items
    if getattr(original, "rolls_back_touched_items_only", False):
        return

    @functools.wraps(original)
    def transact_write_items(backend, transact_items):
        try:
            saved = [_saved_item(backend, entry) for entry in transact_items]
        except Exception:
            # Malformed: let moto find and report the problem in its own way.
            return original(backend, transact_items)
        Table.__deepcopy__ = lambda table, memo: table
        try:
            return original(backend, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(saved):
                if attributes is None:
                    backend.delete_item(table_name, key)
                else:
                    backend.put_item(table_name, attributes)
            raise
        finally:
            del Table.__deepcopy__

    transact_write_items.rolls_back_touched_items_only = True
    DynamoDBBackend.transact_write_items = transact_write_items


def keep_no_stream_records() -> None:
    """Tables keep their stream settings, but no records are kept.

    In AWS the incidents table's stream wakes the notification function; locally a
    timer does (oncall_local/server.py) and nothing reads a stream. moto would
    serialize every incident write into a record list that only grows, which cost
    a third of the local throughput in bench/storm.py."""
    StreamShard.add = lambda shard, old, new: None


def _saved_item(backend, entry: dict) -> tuple[str, dict, dict | None]:
    """(table, key, the item's attributes now or None) for one transaction entry."""
    _, operation = next(iter(entry.items()))
    table_name = operation["TableName"]
    if "Key" in operation:
        key = operation["Key"]
    else:
        table = backend.get_table(table_name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        key = {name: operation["Item"][name] for name in names}
    current = backend.get_item(table_name, key)
    return table_name, key, None if current is None else copy.deepcopy(current.to_json()["Attributes"])


class Emulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        roll_back_touched_items_only()
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
