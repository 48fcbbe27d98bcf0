"""What DynamoDB would bill for the requests an operation makes, priced from the items
themselves as the in-process emulator holds them before and after each request.

The rules, from DynamoDB's documentation ("Item sizes and formats", "Read/write
capacity mode", "Global secondary indexes", transactions):

- a write costs one unit per KB (rounded up) of the larger of the item before and
  after it; a delete, of the item deleted; a write whose condition fails, of the
  item it found (at least one unit);
- in a transaction each Put, Update or Delete costs twice that on its table, and a
  ConditionCheck is a transactional read of the item it checks;
- each global secondary index an item is in before or after the write costs one
  more write of the index entry (its projected attributes and keys): a put when it
  enters, a delete when it leaves, both when its index key changes, one write when
  a projected attribute changes, nothing when none does;
- a read costs a unit per 4 KB (half for an eventually consistent read); a Query
  adds up the sizes of the items it returns (from the index when it reads one); a
  BatchGetItem prices each key it asked for as a GetItem of its own.

`Meter` is an interceptor for tests/dynamo.py: `with metered() as meter:` prices every
request made inside the block; `meter.write_units` totals them, `meter.partitions`
counts the partition keys each table and index was written under (an index under its
own partition key's value), and `meter.writes` keeps each item a write changed, before
and after, as a table's stream would see it.
"""

import json
import math
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

from moto.dynamodb.models import dynamodb_backends

from chalicelib.itemsize import item_size
from tests import dynamo

KB = 1024
READ_BLOCK = 4 * KB
ACCOUNT = "123456789012"
WRITES = ("PutItem", "UpdateItem", "DeleteItem")
# Requests DynamoDB bills that the product does not make today: a figure that left
# them out would look cheaper than it is, so the meter refuses them.
UNPRICED = ("BatchWriteItem", "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction")


def units(size: int, block: int = KB) -> int:
    return max(1, math.ceil(size / block))


@dataclass(frozen=True)
class Written:
    """An item a write changed: its table and its image before and after (None where
    it did not exist), in DynamoDB's JSON, as a stream record carries them. A write
    that fails, or leaves the item as it was, changes nothing and makes no record."""

    table: str
    old: dict | None
    new: dict | None


@dataclass
class Charge:
    operation: str
    write_units: float = 0
    read_units: float = 0
    # (table or table/index, partition key) -> write units spent under it
    partitions: Counter = field(default_factory=Counter)
    writes: list[Written] = field(default_factory=list)


@dataclass
class Meter:
    charges: list[Charge] = field(default_factory=list)

    @property
    def write_units(self) -> float:
        return sum(charge.write_units for charge in self.charges)

    @property
    def read_units(self) -> float:
        return sum(charge.read_units for charge in self.charges)

    @property
    def partitions(self) -> Counter:
        total: Counter = Counter()
        for charge in self.charges:
            total.update(charge.partitions)
        return total

    @property
    def writes(self) -> list[Written]:
        return [written for charge in self.charges for written in charge.writes]

    def by_operation(self) -> Counter:
        return Counter(charge.operation for charge in self.charges)

    def __call__(self, request, serve):
        operation = dynamo.operation_of(request)
        body = json.loads(request.body)
        backend = dynamodb_backends[ACCOUNT][_region(request)]
        charge = Charge(operation)
        if operation in UNPRICED:
            raise AssertionError(f"the capacity meter does not price {operation}; teach tests/capacity.py first")
        if operation in WRITES or operation == "TransactWriteItems":
            entries = _write_entries(operation, body)
            before = [_stored(backend, table, key) for _, table, key in entries]
            response = serve()
            succeeded = response.status_code == 200
            for (kind, table, key), old in zip(entries, before, strict=True):
                new = _stored(backend, table, key)
                _price_write(charge, backend, kind, table, old, new, succeeded, operation == "TransactWriteItems")
        else:
            response = serve()
            if response.status_code == 200:
                _price_read(charge, backend, operation, body, json.loads(response.content))
        self.charges.append(charge)
        return response


@contextmanager
def metered():
    meter = Meter()
    previous, dynamo.interceptor = dynamo.interceptor, meter
    try:
        yield meter
    finally:
        dynamo.interceptor = previous


def _region(request) -> str:
    return request.url.split("dynamodb.", 1)[1].split(".", 1)[0]


def _write_entries(operation: str, body: dict) -> list[tuple[str, str, dict]]:
    """(kind, table, key) of each item the request writes or checks."""
    if operation == "TransactWriteItems":
        return [_entry(kind, spec) for item in body["TransactItems"] for kind, spec in item.items()]
    kind = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}[operation]
    return [_entry(kind, body)]


def _entry(kind: str, spec: dict) -> tuple[str, str, dict]:
    return kind, spec["TableName"], spec.get("Key") or spec["Item"]


def _stored(backend, table_name: str, key: dict) -> dict | None:
    table = backend.get_table(table_name)
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    item = backend.get_item(table_name, {name: key[name] for name in names})
    return None if item is None else json.loads(json.dumps(item.to_json()["Attributes"]))


def _price_write(charge: Charge, backend, kind, table_name, old, new, succeeded: bool, transactional: bool) -> None:
    factor = 2 if transactional else 1
    table = backend.get_table(table_name)
    if kind == "ConditionCheck":
        charge.read_units += 2 * units(item_size(old) if old else 0, READ_BLOCK)
        return
    if not succeeded:
        if not transactional:
            charge.write_units += units(item_size(old) if old else 0)
        return
    if old is None and new is None:
        return
    if old != new:
        charge.writes.append(Written(table_name, old, new))
    size = max(item_size(old) if old else 0, item_size(new) if new else 0)
    cost = factor * units(size)
    charge.write_units += cost
    charge.partitions[(table_name, _value(new or old, table.hash_key_attr))] += cost
    for index in table.global_indexes:
        _price_index(charge, table_name, table, index, old, new)


def _price_index(charge: Charge, table_name: str, table, index, old, new) -> None:
    keys = [part["AttributeName"] for part in index.schema]
    hash_name = keys[0]
    before, after = _projected(table, index, keys, old), _projected(table, index, keys, new)
    name = f"{table_name}/{index.name}"
    writes: list[tuple[dict, dict]] = []  # (entry priced, entry whose partition it is written under)
    if before is not None and after is not None:
        if any(before.get(key) != after.get(key) for key in keys):
            writes += [(before, before), (after, after)]
        elif before != after:
            writes.append((max(before, after, key=item_size), after))
    elif before is not None:
        writes.append((before, before))
    elif after is not None:
        writes.append((after, after))
    for priced, home in writes:
        cost = units(item_size(priced))
        charge.write_units += cost
        charge.partitions[(name, _value(home, hash_name))] += cost


def _projected(table, index, keys: list[str], item: dict | None) -> dict | None:
    """The index entry of `item`, or None when the item is not in the (sparse) index."""
    if item is None or any(key not in item for key in keys):
        return None
    projection = index.projection or {}
    kind = projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return dict(item)
    kept = set(keys) | {table.hash_key_attr} | ({table.range_key_attr} if table.range_key_attr else set())
    if kind == "INCLUDE":
        kept |= set(projection.get("NonKeyAttributes", []))
    return {name: value for name, value in item.items() if name in kept}


def _value(item: dict, name: str) -> str:
    (value,) = item[name].values()
    return str(value)


def _price_read(charge: Charge, backend, operation: str, body: dict, answer: dict) -> None:
    consistent = body.get("ConsistentRead", False)
    factor = 1 if consistent else 0.5
    if operation == "GetItem":
        # Billed on the whole item, whatever attributes the read asked for.
        item = _stored(backend, body["TableName"], body["Key"])
        charge.read_units += factor * units(item_size(item) if item else 0, READ_BLOCK)
    elif operation == "Query":
        size = sum(item_size(item) for item in answer.get("Items", []))
        charge.read_units += factor * units(size, READ_BLOCK)
    elif operation == "BatchGetItem":
        # Each key is read as a GetItem would read it, found or not.
        for table_name, asked in body["RequestItems"].items():
            each = 1 if asked.get("ConsistentRead", False) else 0.5
            for key in asked["Keys"]:
                item = _stored(backend, table_name, key)
                charge.read_units += each * units(item_size(item) if item else 0, READ_BLOCK)
    elif operation == "TransactGetItems":
        for response in answer.get("Responses", []):
            item = response.get("Item")
            charge.read_units += 2 * units(item_size(item) if item else 0, READ_BLOCK)
