"""DynamoDB's documented rules where moto departs from them, for the embedded
emulator and the in-process tests alike (both run moto behind one lock).

- Idempotency tokens: moto ignores ClientRequestToken. DynamoDB answers a repeated
  TransactWriteItems token within 10 minutes of its success with that success,
  writing nothing again, and the same token with other parameters with
  IdempotentParameterMismatchException. Without this, a retry after a lost
  response writes twice locally where AWS would not, and tests cannot tell.
- Item size: moto counts items its own way (a number as its text, no overhead for
  lists and maps) against a limit of 405,000 bytes. DynamoDB counts as
  chalicelib/itemsize.py does and refuses anything over 400 KB.
- Rollback: moto backs up every table a transaction names with a deep copy, so
  each transaction costs time in proportion to the whole table. Behind the lock
  nothing else runs during a transaction, so restoring the items it names is
  enough.
"""

import functools
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from moto.dynamodb.exceptions import DynamodbException, ItemSizeTooLarge, ItemSizeToUpdateTooLarge
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from chalicelib.itemsize import MAX_ITEM_BYTES, item_size

TOKEN_WINDOW_SECONDS = 600
_installed = threading.Lock()
_done = False


def install() -> None:
    """Apply every rule once per process."""
    global _done
    with _installed:
        if _done:
            return
        _honour_client_request_tokens()
        _enforce_item_size()
        _roll_back_touched_items_only()
        _done = True


# --- idempotency tokens ---------------------------------------------------------------


class IdempotentParameterMismatch(DynamodbException):
    def __init__(self) -> None:
        super().__init__(
            "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
            "The request uses the same client token as a previous, but non-identical request.",
        )


class TokenLedger:
    """Successful transactions by token, for TOKEN_WINDOW_SECONDS after each success."""

    # Replaced in tests to step past the window without waiting.
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[str, float, object]] = OrderedDict()

    def replay(self, token: str, fingerprint: str):
        """The stored answer of `token`, or None when it is new (or its window passed)."""
        self._forget_old()
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[0] != fingerprint:
            raise IdempotentParameterMismatch()
        return entry[2]

    def record(self, token: str, fingerprint: str, answer) -> None:
        self._entries[token] = (fingerprint, self.clock(), answer)
        self._entries.move_to_end(token)

    def _forget_old(self) -> None:
        horizon = self.clock() - TOKEN_WINDOW_SECONDS
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if oldest[1] >= horizon:
                return
            self._entries.popitem(last=False)


def ledger_of(backend: DynamoDBBackend) -> TokenLedger:
    # Kept on the backend, so a test's fresh moto backend starts with a fresh ledger.
    ledger = backend.__dict__.get("_client_request_tokens")
    if ledger is None:
        ledger = backend.__dict__["_client_request_tokens"] = TokenLedger()
    return ledger


def _fingerprint(body: dict) -> str:
    parameters = {name: value for name, value in body.items() if name != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()


def _honour_client_request_tokens() -> None:
    original = DynamoHandler.transact_write_items

    @functools.wraps(original)
    def transact_write_items(handler):
        token = handler.body.get("ClientRequestToken")
        if not token:
            return original(handler)
        ledger = ledger_of(handler.dynamodb_backend)
        fingerprint = _fingerprint(handler.body)
        stored = ledger.replay(token, fingerprint)
        if stored is not None:
            return stored
        answer = original(handler)
        ledger.record(token, fingerprint, answer)
        return answer

    DynamoHandler.transact_write_items = transact_write_items


# --- item size --------------------------------------------------------------------------


def _enforce_item_size() -> None:
    # moto's own check, on every attribute set, counts differently: off.
    LimitedSizeDict.__setitem__ = dict.__setitem__
    original_put, original_update = DynamoDBBackend.put_item, DynamoDBBackend.update_item

    @functools.wraps(original_put)
    def put_item(backend, table_name, item_attrs, *args, **kwargs):
        if item_size(item_attrs) > MAX_ITEM_BYTES:
            raise ItemSizeTooLarge()
        return original_put(backend, table_name, item_attrs, *args, **kwargs)

    @functools.wraps(original_update)
    def update_item(backend, table_name, key, *args, **kwargs):
        before = backend.get_item(table_name, key)
        # to_json copies every attribute (moto's to_regular_json), so this is the item as it was.
        before = None if before is None else before.to_json()["Attributes"]
        item = original_update(backend, table_name, key, *args, **kwargs)
        if item_size(item.to_json()["Attributes"]) > MAX_ITEM_BYTES:
            _restore(backend, table_name, key, before)
            raise ItemSizeToUpdateTooLarge()
        return item

    DynamoDBBackend.put_item = put_item
    DynamoDBBackend.update_item = update_item


def _restore(backend: DynamoDBBackend, table_name: str, key: dict, attributes: dict | None) -> None:
    if attributes is None:
        backend.delete_item(table_name, key)
    else:
        backend.put_item(table_name, attributes)


# --- rollback ------------------------------------------------------------------------------


def _roll_back_touched_items_only() -> None:
    original = DynamoDBBackend.transact_write_items

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
                _restore(backend, table_name, key, attributes)
            raise
        finally:
            del Table.__deepcopy__

    DynamoDBBackend.transact_write_items = transact_write_items


def _saved_item(backend: DynamoDBBackend, entry: dict) -> tuple[str, dict, dict | None]:
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
    return table_name, key, None if current is None else current.to_json()["Attributes"]
