"""The DynamoDB connection shared by transactions, table creation, and the
transaction builder every multi-item invariant goes through."""

import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import GetError, PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from chalicelib.config import settings
from chalicelib.errors import Busy, DomainError, InvalidInput, NotFound

# Answers after which nothing was written: any retry is safe.
REJECTED_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
}
# Answers (or their absence: a lost connection, a timeout) after which the write
# may or may not have happened.
AMBIGUOUS_CODES = {"InternalServerError", "ServiceUnavailable", "TransactionInProgressException"}
CONDITION_FAILED = "ConditionalCheckFailedException"


@lru_cache(maxsize=1)
def connection() -> Connection:
    cfg = settings()
    return Connection(region=cfg.region, host=cfg.dynamodb_endpoint, max_pool_connections=cfg.max_pool_connections)


def response_code(error: PynamoDBException) -> str | None:
    """DynamoDB's error code; None when no answer came (PynamoDB's own property
    fails on the network's errors, which carry no response)."""
    response = getattr(error.cause, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def failed_condition(error: PynamoDBException) -> bool:
    return response_code(error) == CONDITION_FAILED


def is_ambiguous(error: PynamoDBException) -> bool:
    return response_code(error) in AMBIGUOUS_CODES or isinstance(error.cause, BotoCoreError)


def is_transient(error: PynamoDBException) -> bool:
    """Throttling, contention or a failure of DynamoDB or the network: the caller may retry."""
    return response_code(error) in REJECTED_CODES or is_ambiguous(error)


def retry_later(what: str = "The database is busy") -> Busy:
    return Busy(f"{what}; retry the request shortly.")


def settle(write: Callable[[], object], landed: Callable[[], bool]) -> bool:
    """Run one conditional write (a PutItem, UpdateItem or DeleteItem) and say
    whether it is in the table: True when it was applied, by this call or by an
    attempt of it whose answer was lost (botocore retries a request whose answer
    it never got, and the retry then fails the condition the first one changed);
    False when its condition failed for another reason. `landed` reads the item
    and recognises this very write; it is asked only when the answer leaves it open.
    Raises Busy when the write failed for a reason a retry may clear."""
    try:
        write()
        return True
    except PynamoDBException as error:
        if failed_condition(error):
            return landed()
        if is_ambiguous(error) and landed():
            return True
        if is_transient(error):
            raise retry_later() from None
        raise


def read_retrying(read: Callable[[], Model]) -> Model | None:
    """`read()`, tried again while DynamoDB is busy or does not answer; None when it
    never answered. For a read that follows a committed write: a 503 there would
    have the caller send the write again."""
    for attempt in range(Transaction.ATTEMPTS):
        try:
            return read()
        except PynamoDBException as error:
            if not is_transient(error):
                raise
            time.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
    return None


# DynamoDB's most keys in one BatchGetItem, over all the tables it reads.
BATCH_GET_KEYS = 100


def batch_get(wanted: dict[type[Model], list], *, consistent_read: bool = True) -> dict[type[Model], list[Model]]:
    """The items at the given hash keys of several tables, read in one BatchGetItem
    (PynamoDB's Model.batch_get reads one table), keys not found left out. Keys
    DynamoDB leaves unprocessed (it does under load) are asked for again; a failure
    is raised as PynamoDB's GetError, as a GetItem's would be, so is_transient,
    read_retrying and the API's 503 treat both alike."""
    asked = {}
    models = {}
    for model, keys in wanted.items():
        if keys:
            table = model.Meta.table_name
            models[table] = model
            asked[table] = {
                "Keys": [model.get_operation_kwargs_from_class(key)["Key"] for key in keys],
                "ConsistentRead": consistent_read,
            }
    if sum(len(request["Keys"]) for request in asked.values()) > BATCH_GET_KEYS:
        raise ValueError(f"one BatchGetItem reads at most {BATCH_GET_KEYS} keys")
    found: dict[type[Model], list[Model]] = {model: [] for model in wanted}
    # The one client every table's requests go through (chalicelib/models.py, Table).
    client = connection().client
    for attempt in range(Transaction.ATTEMPTS):
        if not asked:
            return found
        if attempt:
            time.sleep(random.uniform(0.005, 0.02) * attempt)
        try:
            answer = client.batch_get_item(RequestItems=asked)
        except (BotoCoreError, ClientError) as error:
            raise GetError("BatchGetItem failed", cause=error) from error
        for table, items in answer.get("Responses", {}).items():
            found[models[table]] += [models[table].from_raw_data(item) for item in items]
        asked = answer.get("UnprocessedKeys") or {}
    if not asked:
        return found
    # Still unprocessed: DynamoDB leaves keys out when it throttles the read.
    throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "BatchGetItem")
    raise GetError("BatchGetItem left keys unprocessed", cause=throttled)


class TransactionCancelled(Exception):
    """A condition of the transaction failed; `failed` names the items whose condition
    did, and `found` holds, by tag, those items as they were when a write asked for them."""

    def __init__(self, failed: set[str], found: dict[str, dict] | None = None) -> None:
        super().__init__(f"transaction conditions failed: {sorted(failed)}")
        self.failed = failed
        self.found = found or {}


@dataclass(frozen=True)
class Guard:
    """A condition on an item of another table that a write must also see hold: a
    transaction carries it as a ConditionCheck (or, with `actions`, as an update of
    that item made in the same commit), and raises Superseded when it fails."""

    model: type[Model]
    hash_key: object
    condition: Condition
    actions: tuple = ()


class Superseded(Exception):
    """A transaction's Guard no longer held: what it was to do was overtaken."""


GUARD_TAG = "guard"


class Transaction:
    """Collects the writes of one TransactWriteItems call, each with a tag, so a
    cancellation can say which condition failed."""

    ATTEMPTS = 4

    def __init__(self, *, attempts: int = ATTEMPTS) -> None:
        self._attempts = attempts
        self._items: dict[str, list[tuple[str, dict]]] = {
            "condition_check": [],
            "delete": [],
            "put": [],
            "update": [],
        }

    def put(self, item: Model, *, condition: Condition | None = None, tag: str = "") -> "Transaction":
        self._items["put"].append((tag, item.get_save_kwargs_from_instance(condition=condition)))
        return self

    def check(self, model: type[Model], hash_key, *, condition: Condition, tag: str = "") -> "Transaction":
        """A ConditionCheck: the transaction commits only if `condition` holds for that item."""
        kwargs = model.get_operation_kwargs_from_class(hash_key, condition=condition)
        self._items["condition_check"].append((tag, kwargs))
        return self

    def guard(self, guard: Guard | None) -> "Transaction":
        """Commit only while `guard` holds; commit() raises Superseded when it does not."""
        if guard is not None and guard.actions:
            self.update(guard.model(guard.hash_key), list(guard.actions), condition=guard.condition, tag=GUARD_TAG)
        elif guard is not None:
            self.check(guard.model, guard.hash_key, condition=guard.condition, tag=GUARD_TAG)
        return self

    def update(
        self,
        item: Model,
        actions: list,
        *,
        condition: Condition | None = None,
        tag: str = "",
        return_found: bool = False,
    ) -> "Transaction":
        """`return_found`: should the condition fail, the cancellation carries the item
        as it was (TransactionCancelled.found), so a retry needs no read."""
        kwargs = item.get_update_kwargs_from_instance(
            actions=actions, condition=condition, return_values_on_condition_failure="ALL_OLD" if return_found else None
        )
        self._items["update"].append((tag, kwargs))
        return self

    def delete(self, item: Model, *, condition: Condition | None = None, tag: str = "") -> "Transaction":
        self._items["delete"].append((tag, item.get_delete_kwargs_from_instance(condition=condition)))
        return self

    def _ordered_tags(self) -> list[str]:
        # Connection.transact_write_items sends condition checks, deletes, puts, then updates.
        return [tag for kind in ("condition_check", "delete", "put", "update") for tag, _ in self._items[kind]]

    def commit(self, landed: Callable[[], bool] | None = None) -> None:
        """Write everything or nothing. Contention and throttling are retried here.

        Every attempt carries an idempotency token: DynamoDB answers a token it
        already committed with that success and writes nothing again. Once any
        attempt's outcome is unknown, every later attempt keeps its token (a later
        failure says nothing about the earlier attempt, which may have committed);
        until then a new token follows each answer that wrote nothing. If it is
        still open after the last attempt, `landed` (when given) reads whether the
        transaction is in the table before Busy is raised."""
        lists = {kind: [kwargs for _, kwargs in items] for kind, items in self._items.items()}
        token = uuid.uuid4().hex
        unsettled = False
        for attempt in range(self._attempts):
            try:
                connection().transact_write_items(
                    condition_check_items=lists["condition_check"],
                    delete_items=lists["delete"],
                    put_items=lists["put"],
                    update_items=lists["update"],
                    client_request_token=token,
                )
                return
            except TransactWriteError as error:
                reasons = error.cancellation_reasons or []
                failed = {
                    tag: reason.raw_item
                    for tag, reason in zip(self._ordered_tags(), reasons, strict=False)
                    if reason is not None and reason.code == "ConditionalCheckFailed"
                }
                if GUARD_TAG in failed:
                    raise Superseded() from error
                if failed:
                    found = {tag: item for tag, item in failed.items() if item}
                    raise TransactionCancelled(set(failed), found) from error
                conflicted = any(
                    reason is not None and reason.code in ("TransactionConflict", "ThrottlingError")
                    for reason in reasons
                )
                unsettled = unsettled or is_ambiguous(error)
                if not (conflicted or is_transient(error)):
                    raise
                if not unsettled:
                    # Nothing was written: the next attempt is a new request.
                    token = uuid.uuid4().hex
                # Another transaction held one of our items, or DynamoDB was busy;
                # the next attempt re-evaluates every condition against the new state.
                time.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        if unsettled and landed is not None and landed():
            return
        raise Busy("The database is busy with competing updates to this incident; retry the request.")


def create_tables(models) -> list[str]:
    """Create each model's table (with its indexes) unless it already exists."""
    created = []
    for model in models:
        if not model.exists():
            model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
            created.append(model.Meta.table_name)
    return created


def find(model: type[Model], *key) -> Model | None:
    """The item at `key`, read consistently, or None."""
    try:
        return model.get(*key, consistent_read=True)
    except model.DoesNotExist:
        return None


def save_new(item: Model, condition: Condition, conflict: DomainError) -> None:
    """Put an item that must not exist yet; raise `conflict` when another one does.
    An item equal to this one is this very put, answered late."""

    def landed() -> bool:
        try:
            stored = type(item).get(*_key_of(item), consistent_read=True)
        except type(item).DoesNotExist:
            return False
        return stored.serialize() == item.serialize()

    if not settle(lambda: item.save(condition=condition), landed):
        raise conflict


PUBLIC_ID = re.compile(r"[0-9a-f]{32}")


def keys_by_public_id(model: type[Model], public_id: str, noun: str) -> Model:
    """The table key of the item whose `id` attribute is public_id, found through
    the model's keys-only `id_index` (the tables are keyed for their read paths)."""
    if not PUBLIC_ID.fullmatch(public_id):
        raise InvalidInput(f"A {noun} id is 32 hexadecimal characters, got {public_id[:40]!r}.", field="id")
    keys = list(model.id_index.query(public_id, limit=1))
    if not keys:
        raise NotFound(f"There is no {noun} with id {public_id}.")
    return keys[0]


def delete_by_public_id(model: type[Model], public_id: str, noun: str) -> None:
    """Delete the item whose `id` is public_id. Once found, it is gone either way:
    a condition that fails found it deleted already (by this request's lost first
    attempt, or by another), which is what the caller asked for."""
    item = keys_by_public_id(model, public_id, noun)
    settle(lambda: item.delete(condition=model.id == public_id), lambda: True)


def _key_of(item: Model) -> tuple:
    names = [item._hash_keyname] + ([item._range_keyname] if item._range_keyname else [])
    return tuple(getattr(item, name) for name in names)
