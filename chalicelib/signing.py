"""The secrets that sign what oncall hands out and reads back: pagination cursors,
so that a forged or edited cursor is refused instead of read, and the links in
pages, which act as the person paged. Each is made at random on first use and
kept in the stats table; each process reads it once."""

import hashlib
import hmac
import secrets
import threading

from pynamodb.exceptions import PutError

from chalicelib import db
from chalicelib.models import Stats

SIGNATURE_BYTES = 16


class Key:
    """One purpose's secret. Purposes never share one: a cursor's signature is no
    link's, whatever the bytes signed."""

    def __init__(self, purpose: str) -> None:
        self.purpose = purpose
        self._lock = threading.Lock()
        self._secret: bytes | None = None

    def sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key(), payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]

    def verify(self, payload: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(self.sign(payload), signature)

    def forget(self) -> None:
        with self._lock:
            self._secret = None

    def _key(self) -> bytes:
        with self._lock:
            if self._secret is None:
                self._secret = bytes.fromhex(self._stored_or_new())
            return self._secret

    def _stored_or_new(self) -> str:
        try:
            return Stats.get("secret", self.purpose, consistent_read=True).secret
        except Stats.DoesNotExist:
            pass
        item = Stats("secret", self.purpose, secret=secrets.token_hex(32))
        try:
            # Two processes may start at once: the first write wins and both use it.
            item.save(condition=Stats.kind.does_not_exist())
            return item.secret
        except PutError as error:
            if not db.failed_condition(error):
                raise
        return Stats.get("secret", self.purpose, consistent_read=True).secret


CURSORS = Key("cursor")
LINKS = Key("links")


def forget() -> None:
    """Drop the cached secrets (tests that start from empty tables)."""
    for key in (CURSORS, LINKS):
        key.forget()
