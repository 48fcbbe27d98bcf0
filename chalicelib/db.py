"""The DynamoDB connection shared by transactions, table creation, and the
transaction builder every multi-item invariant goes through."""

import random
import re
import time
from functools import lru_cache

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from .config import settings
from .errors import Busy, DomainError, InvalidInput, NotFound

THROTTLING_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
}


@lru_cache(maxsize=1)
def connection() -> Connection:
    cfg = settings()
    return Connection(region=cfg.region, host=cfg.dynamodb_endpoint, max_pool_connections=cfg.max_pool_connections)


def is_throttling(error: PynamoDBException) -> bool:
    return error.cause_response_code in THROTTLING_CODES


class TransactionCancelled(Exception):
    """A condition of the transaction failed; `failed` names the items whose condition did."""

    def __init__(self, failed: set[str]) -> None:
        super().__init__(f"transaction conditions failed: {sorted(failed)}")
        self.failed = failed


class Transaction:
    """Collects the writes of one TransactWriteItems call, each with a tag, so a
    cancellation can say which condition failed."""

    ATTEMPTS = 4

    def __init__(self) -> None:
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

    def update(self, item: Model, actions: list, *, condition: Condition | None = None, tag: str = "") -> "Transaction":
        kwargs = item.get_update_kwargs_from_instance(actions=actions, condition=condition)
        self._items["update"].append((tag, kwargs))
        return self

    def delete(self, item: Model, *, condition: Condition | None = None, tag: str = "") -> "Transaction":
        self._items["delete"].append((tag, item.get_delete_kwargs_from_instance(condition=condition)))
        return self

    def _ordered_tags(self) -> list[str]:
        # Connection.transact_write_items sends condition checks, deletes, puts, then updates.
        return [tag for kind in ("condition_check", "delete", "put", "update") for tag, _ in self._items[kind]]

    def commit(self) -> None:
        lists = {kind: [kwargs for _, kwargs in items] for kind, items in self._items.items()}
        for attempt in range(self.ATTEMPTS):
            try:
                connection().transact_write_items(
                    condition_check_items=lists["condition_check"],
                    delete_items=lists["delete"],
                    put_items=lists["put"],
                    update_items=lists["update"],
                )
                return
            except TransactWriteError as error:
                reasons = error.cancellation_reasons or []
                failed = {
                    tag
                    for tag, reason in zip(self._ordered_tags(), reasons, strict=False)
                    if reason is not None and reason.code == "ConditionalCheckFailed"
                }
                if failed:
                    raise TransactionCancelled(failed) from error
                retryable = is_throttling(error) or any(
                    reason is not None and reason.code in ("TransactionConflict", "ThrottlingError")
                    for reason in reasons
                )
                if not retryable:
                    raise
                # Another transaction held one of our items; nothing was written, so
                # trying again re-evaluates every condition against the new state.
                time.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        raise Busy("The database is busy with competing updates to this incident; retry the request.")


def create_tables(models) -> list[str]:
    """Create each model's table (with its indexes) unless it already exists."""
    created = []
    for model in models:
        if not model.exists():
            model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
            created.append(model.Meta.table_name)
    return created


def save_new(item: Model, condition: Condition, conflict: DomainError) -> None:
    """Put an item that must not exist yet; raise `conflict` when it does."""
    try:
        item.save(condition=condition)
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise conflict from None
        raise


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
    item = keys_by_public_id(model, public_id, noun)
    try:
        item.delete(condition=model.id == public_id)
    except DeleteError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise NotFound(f"There is no {noun} with id {public_id}.") from None
        raise
