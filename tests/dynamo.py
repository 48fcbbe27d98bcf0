"""In-process DynamoDB for tests: the embedded emulator's moto (oncall_local/emulator.py)
behind its one lock, with DynamoDB's own rules, a request counter and a place to inject
faults.

moto's in-memory backend is not atomic when requests overlap (a conditional
write can pass for two threads at once), so every request takes the emulator's
lock, as the local server's do. The counter sees every request through a botocore
event hook and fails loudly on a Scan.
"""

import threading
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager

import pytest
from botocore.exceptions import ClientError
from moto.core import botocore_stubber

from oncall_local import emulator

emulator.prepare_moto()
_serve = botocore_stubber.BotocoreStubber.__call__

# Called, inside the lock, with each DynamoDB request and a function that serves it
# (tests/faults.py): it may serve it, answer in moto's place, or raise. One that can
# tell before a call whether it would serve the call's request as is has
# `passes(operation) -> bool`, which also counts that request as seen: such calls are
# answered directly (oncall_local/dynamodb_direct.py), the others take the SDK's whole
# path, retries and all. Without `passes`, every call takes the whole path.
interceptor: Callable | None = None


@contextmanager
def interceptor_off():
    global interceptor
    saved, interceptor = interceptor, None
    try:
        yield
    finally:
        interceptor = saved


def operation_of(request) -> str | None:
    """The DynamoDB operation a botocore request asks for (None for other services)."""
    target = request.headers.get("X-Amz-Target") or ""
    if isinstance(target, bytes):
        target = target.decode()
    service, _, operation = target.partition(".")
    return operation if service.startswith("DynamoDB_") else None


def _intercepted_call(self, event_name, request, **kwargs):
    if interceptor is None or not operation_of(request):
        return _serve(self, event_name, request, **kwargs)
    with emulator.LOCK:
        return interceptor(request, lambda: _serve(self, event_name, request, **kwargs))


botocore_stubber.BotocoreStubber.__call__ = _intercepted_call


def _whole_path_wanted(operation: str) -> bool:
    if interceptor is None:
        return False
    passes = getattr(interceptor, "passes", None)
    return passes is None or not passes(operation)


emulator.whole_path_wanted = _whole_path_wanted


class RequestCounter:
    """Counts DynamoDB operations by name, registered on every botocore session's
    'before-call.dynamodb' event through botocore's builtin handler list."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, model, **kwargs) -> None:
        if model.name == "Scan":
            raise AssertionError("a code path issued a DynamoDB Scan")
        with self._lock:
            self.calls[model.name] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @contextmanager
    def measure(self):
        """Yield a Counter that holds only the requests made inside the block."""
        before = self.calls.copy()
        delta: Counter[str] = Counter()
        yield delta
        delta.update(self.calls - before)


counter = RequestCounter()


def _dispatch(model, **kwargs):
    counter(model, **kwargs)


def install_counter() -> None:
    from botocore import handlers

    entry = ("before-call.dynamodb", _dispatch)
    if entry not in handlers.BUILTIN_HANDLERS:
        handlers.BUILTIN_HANDLERS.append(entry)


def every_item_operation(dynamodb, table: str) -> None:
    """Each item operation once or more, on `table` (keyed by a number `id`), through
    the botocore client `dynamodb`: items of every attribute type, answers with
    and without consumed capacity, failed conditions, a refused request, pages."""
    item = {"id": {"N": "7"}, "title": {"S": "x"}, "tags": {"SS": ["a", "b"]}, "n": {"NS": ["1", "2.5"]}}
    item |= {"nested": {"M": {"l": {"L": [{"NULL": True}, {"BOOL": False}, {"S": ""}]}}}}
    key = {"id": {"N": "7"}}
    dynamodb.put_item(TableName=table, Item=item, ReturnValues="NONE")
    dynamodb.put_item(TableName=table, Item=item, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL")
    dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True, ReturnConsumedCapacity="INDEXES")
    dynamodb.get_item(TableName=table, Key={"id": {"N": "8"}})
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET title = :t ADD alert_count :one",
        ExpressionAttributeValues={":t": {"S": "y"}, ":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET title = :t",
            ConditionExpression="attribute_not_exists(id)",
            ExpressionAttributeValues={":t": {"S": "z"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    dynamodb.query(
        TableName=table,
        KeyConditionExpression="id = :id",
        ExpressionAttributeValues={":id": {"N": "7"}},
        Limit=1,
        ReturnConsumedCapacity="TOTAL",
    )
    dynamodb.batch_get_item(RequestItems={table: {"Keys": [key, {"id": {"N": "9"}}]}})
    dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}])
    dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"id": {"N": "9"}}}}]})
    dynamodb.transact_write_items(TransactItems=[{"Delete": {"TableName": table, "Key": {"id": {"N": "9"}}}}])
    refused = {"TableName": table, "Key": key, "ConditionExpression": "attribute_not_exists(id)"}
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[{"ConditionCheck": refused | {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}]
        )
    with pytest.raises(ClientError, match="ValidationException"):
        dynamodb.get_item(TableName=table, Key={"title": {"S": "x"}})
    dynamodb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD")
