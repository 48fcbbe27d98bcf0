"""DynamoDB's item answers written straight as JSON, for the embedded emulator.

moto answers every request through a serializer that walks the operation's output
shape member by member, trying several spellings of each name. For an item read
that is most of a request's time, more as items grow: a sweep over incidents with
long histories spent 85% of moto's time there (bench/RESULTS.md). The answers of
the item operations are already plain JSON once moto has turned its values into
DynamoDB's `{"S": ...}` form: the serializer's only changes to them are leaving out
members that are None and the few names moto adds beyond the answer's shape. This
writes them so, and leaves everything else (errors, table descriptions, anything
holding bytes or a time) to moto's serializer.
tests/test_plain_answers.py checks that both give the same answer.
"""

import json
from functools import cache

from moto.core.utils import get_service_model
from moto.dynamodb.responses import DynamoHandler

# The operations whose answers hold only items, keys, counts and consumed capacity.
ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
CONTENT_TYPE = "application/x-amz-json-1.0"


class _NotPlain(Exception):
    """A value JSON cannot carry as it is (bytes, a time): moto's serializer answers."""


def _plain(value, doubles: bool = False):
    """`value` as JSON takes it; with `doubles`, every number as a double (as the shape
    declares every number of ConsumedCapacity and ItemCollectionMetrics)."""
    if isinstance(value, dict):
        return {name: _plain(member, doubles) for name, member in value.items() if member is not None}
    if isinstance(value, list):
        return [_plain(member, doubles) for member in value]
    if doubles and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise _NotPlain()


# Members whose numbers are all doubles in the answer's shape (an item's numbers are strings).
DOUBLES = frozenset({"ConsumedCapacity", "ItemCollectionMetrics"})


@cache
def _answer_members(operation: str) -> frozenset[str]:
    return frozenset(get_service_model("dynamodb").operation_model(operation).output_shape.members)


def plain_body(operation: str, result) -> str | None:
    """The JSON answer of an item operation's result, or None when it is not plain.
    Only the answer's own members: moto adds a few its serializer leaves out."""
    if not isinstance(result, dict):
        return None
    members = _answer_members(operation)
    try:
        return json.dumps(
            {
                name: _plain(value, name in DOUBLES)
                for name, value in result.items()
                if name in members and value is not None
            }
        )
    except _NotPlain:
        return None


# moto's own, kept for the answers this leaves to it (and for the test comparing the two).
moto_serialized = DynamoHandler.serialized


def install() -> None:
    def serialized(handler, action_result):
        operation = handler._get_action()
        if operation in ITEM_OPERATIONS:
            body = plain_body(operation, action_result.result)
            if body is not None:
                return 200, {"Content-Type": CONTENT_TYPE, **handler.response_headers}, body
        return moto_serialized(handler, action_result)

    DynamoHandler.serialized = serialized
