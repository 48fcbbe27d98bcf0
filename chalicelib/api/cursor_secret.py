"""The secret that signs pagination cursors, so a forged or edited cursor is
refused instead of read. It is made at random on first use and kept in the stats
table; each process reads it once."""

import hashlib
import hmac
import secrets
import threading

from pynamodb.exceptions import PutError

from chalicelib import db
from chalicelib.models import Stats

SIGNATURE_BYTES = 16
_lock = threading.Lock()
_secret: bytes | None = None


def sign(payload: bytes) -> bytes:
    return hmac.new(_cursor_secret(), payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def verify(payload: bytes, signature: bytes) -> bool:
    return hmac.compare_digest(sign(payload), signature)


def forget() -> None:
    """Drop the cached secret (tests that start from empty tables)."""
    global _secret
    with _lock:
        _secret = None


def _cursor_secret() -> bytes:
    global _secret
    with _lock:
        if _secret is None:
            _secret = bytes.fromhex(_stored_or_new())
        return _secret


def _stored_or_new() -> str:
    try:
        return Stats.get("secret", "cursor", consistent_read=True).secret
    except Stats.DoesNotExist:
        pass
    item = Stats("secret", "cursor", secret=secrets.token_hex(32))
    try:
        # Two processes may start at once: the first write wins and both use it.
        item.save(condition=Stats.kind.does_not_exist())
        return item.secret
    except PutError as error:
        if not db.failed_condition(error):
            raise
    return Stats.get("secret", "cursor", consistent_read=True).secret
