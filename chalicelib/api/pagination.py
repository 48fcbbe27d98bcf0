"""Opaque cursors for every paginated list: the DynamoDB LastEvaluatedKey, encoded."""

import base64
import binascii
import json
import re

from chalicelib import signing
from chalicelib.api.payloads import whole_number
from chalicelib.errors import InvalidInput

MAX_LIMIT = 100
DEFAULT_LIMIT = 25
MAX_CURSOR_LENGTH = 2048
# A DynamoDB number as it appears in a key we handed out (ids and levels are integers).
_KEY_NUMBER = re.compile(r"-?[0-9]{1,38}")


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    limit = whole_number(raw, 1, MAX_LIMIT)
    if limit is None:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}.", field="limit")
    return limit


def encode(last_evaluated_key: dict | None) -> str | None:
    if not last_evaluated_key:
        return None
    raw = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(raw)}.{_b64(signing.CURSORS.sign(raw))}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode(cursor: str | None, expected: dict[str, str], fixed: dict[str, str]) -> dict | None:
    """Decode a cursor and check it is a key of the index being read.

    `expected` maps each key attribute to its DynamoDB type ("S" or "N");
    `fixed` holds attribute values the cursor must repeat (the partition being
    listed), so a cursor from one list cannot start a read of another.
    """
    if not cursor:
        return None
    refusal = InvalidInput("cursor is not one this list handed out; start again without it.", field="cursor")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise refusal
    payload, _, signature = cursor.partition(".")
    try:
        raw, mac = _unb64(payload), _unb64(signature)
    except (binascii.Error, ValueError):
        raise refusal from None
    if not signing.CURSORS.verify(raw, mac):
        raise refusal
    try:
        key = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise refusal from None
    if not isinstance(key, dict) or set(key) != set(expected):
        raise refusal
    for name, kind in expected.items():
        value = key[name]
        if not isinstance(value, dict) or list(value) != [kind] or not isinstance(value[kind], str):
            raise refusal
        if kind == "N" and not _KEY_NUMBER.fullmatch(value[kind]):
            raise refusal
    for name, value in fixed.items():
        if key[name] != {"S": value}:
            raise refusal
    return key


def one_page(model, results) -> tuple[list, dict | None]:
    """Exactly one Query request: the items of its first page and the key to resume at.

    PynamoDB's iterator would fetch further pages to fill a filtered page; a list
    page here is always one round trip, so a filtered page may be short.
    """
    page = next(results.page_iter)
    items = [model.from_raw_data(raw) for raw in page.get("Items", [])]
    return items, results.page_iter.last_evaluated_key


def _key_types(attributes) -> dict[str, str]:
    return {a.attr_name: a.attr_type for a in attributes if a.is_hash_key or a.is_range_key}


def service_or_feed(model, service_name: str | None, feed: str, limit: int, cursor: str | None, condition=None):
    """One page of a table keyed by service, or, with no service named, of every
    service through the model's `feed_index`. Returns (items, next cursor)."""
    if service_name:
        return table_page(model, service_name, limit, cursor, condition)
    return feed_page(model, feed, limit, cursor, condition)


def table_page(model, hash_key: str, limit: int, cursor: str | None, condition=None):
    """One page of the items under one hash key of the table. Returns (items, next cursor)."""
    table_keys = _key_types(model.get_attributes().values())
    start = decode(cursor, table_keys, {model._hash_keyname: hash_key})
    page = model.query(hash_key, condition, page_size=limit, last_evaluated_key=start)
    items, resume_at = one_page(model, page)
    return items, encode(resume_at)


def feed_page(model, feed: str, limit: int, cursor: str | None, condition=None):
    """One page of the model's `feed_index` partition `feed`. Returns (items, next cursor)."""
    return index_page(model, model.feed_index, feed, limit, cursor, condition)


def index_page(model, index, partition: str, limit: int, cursor: str | None, condition=None):
    """One page of the partition `partition` of one of the model's indexes (as the
    index projects them). Returns (items, next cursor)."""
    table_keys = _key_types(model.get_attributes().values())
    index_attributes = index.Meta.attributes.values()
    index_keys = _key_types(index_attributes)
    [hash_name] = [attribute.attr_name for attribute in index_attributes if attribute.is_hash_key]
    start = decode(cursor, {**table_keys, **index_keys}, {hash_name: partition})
    page = index.query(partition, condition, page_size=limit, last_evaluated_key=start)
    items, resume_at = one_page(model, page)
    return items, encode(resume_at)
