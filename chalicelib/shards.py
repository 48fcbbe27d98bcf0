"""Work queues and lists spread over shards.

The sparse indexes that hold work (incidents due for escalation, incidents with
events owed to their channels, deliveries due for an attempt) are written by every
incident. Under one partition key they would cap the whole product at what one
index partition takes (1,000 write units a second; a throttled index throttles the
table write). So each item's partition is its queue's name and a shard its incident
number picks, and reading a queue is one Query per shard, made in parallel, then
one BatchGetItem per hundred items found (the indexes project keys only). The
lists of incidents (all of them, and by status) are spread the same way.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from pynamodb.models import Model

SHARDS = 16
# DynamoDB's most keys in one BatchGetItem.
BATCH_GET = 100


def partition(queue: str, incident_id: int) -> str:
    return f"{queue}#{int(incident_id) % SHARDS:02d}"


def partitions(queue: str) -> list[str]:
    return [f"{queue}#{shard:02d}" for shard in range(SHARDS)]


def keys_in(index, queue: str, condition, limit: int | None = None) -> list[Model]:
    """The keys of every item in the queue that meets the index's range `condition`
    (at most `limit` per shard), from all shards at once."""

    def one_shard(name: str) -> list[Model]:
        return list(index.query(name, condition, limit=limit))

    with ThreadPoolExecutor(max_workers=SHARDS, thread_name_prefix="shard") as pool:
        return [key for found in pool.map(one_shard, partitions(queue)) for key in found]


def read_all(model: type[Model], keys: list[Model], *, consistent_read: bool = True) -> Iterator[Model]:
    """The items at `keys`, a BatchGetItem per hundred; an item gone since its key
    was listed is skipped."""
    wanted = [_batch_key(key) for key in keys]
    for start in range(0, len(wanted), BATCH_GET):
        yield from model.batch_get(wanted[start : start + BATCH_GET], consistent_read=consistent_read)


def newest(index, names: list[str], limit: int, below: int | None) -> tuple[list[Model], bool]:
    """The keys of the `limit` items with the highest ids under `below` across the
    index partitions `names` (an index keyed by a partition and sorted by `id`), and
    whether there are more. One Query per partition, in parallel: each partition's
    newest `limit` hold the newest `limit` of them all."""
    id_attribute = index.Meta.attributes["id"]
    condition = None if below is None else id_attribute < below

    def one(name: str) -> tuple[list[Model], bool]:
        page = index.query(name, condition, scan_index_forward=False, limit=limit, page_size=limit)
        found = list(page)
        return found, page.last_evaluated_key is not None

    if len(names) == 1:
        results = [one(names[0])]
    else:
        with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="shard") as pool:
            results = list(pool.map(one, names))
    keys = sorted((key for found, _ in results for key in found), key=lambda key: key.id, reverse=True)
    more = len(keys) > limit or any(truncated for _, truncated in results)
    return keys[:limit], more


def _batch_key(item: Model):
    hash_key = getattr(item, item._hash_keyname)
    return (hash_key, getattr(item, item._range_keyname)) if item._range_keyname else hash_key
