"""API keys: created with a random token shown once, stored as its SHA-256,
listed without it, revoked by id."""

import hashlib
import re
import secrets
import uuid

from chalicelib import clock, db
from chalicelib.api import pagination, responses
from chalicelib.api.payloads import KeyBody
from chalicelib.db import Transaction, TransactionCancelled
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.models import ApiKey, KeyToken

FEED = "key"
FEED_CURSOR = {"feed": "S", "created_key": "S", "id": "S"}
TOKEN_PREFIX = "oncall_"
# 32 random bytes; the prefix lets secret scanners and people recognise a token.
TOKEN_BYTES = 32
# What a token chosen elsewhere (ONCALL_ADMIN_KEY) must look like to be usable:
# printable, no spaces (a header value is trimmed), and not too short to guess.
USABLE_TOKEN = re.compile(r"[\x21-\x7e]{16,256}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def create(body: KeyBody, created_by: str | None, *, token: str | None = None) -> dict:
    """Store a new key; the answer is the only place its token ever appears."""
    token = token or new_token()
    if not USABLE_TOKEN.fullmatch(token):
        raise InvalidInput("A token is 16 to 256 printable characters without spaces.", field="token")
    now = clock.now()
    key_id = uuid.uuid4().hex
    services = set(body.services) if body.services else None
    key = ApiKey(
        key_id,
        name=body.name,
        role=body.role,
        user=body.user,
        services=services,
        created_at=now,
        created_by=created_by,
        token_hash=token_hash(token),
        feed=FEED,
        created_key=f"{clock.iso(now)}#{key_id}",
    )
    grant = KeyToken(key.token_hash, key_id=key_id, name=body.name, role=body.role, user=body.user, services=services)
    tx = Transaction()
    tx.put(key, condition=ApiKey.id.does_not_exist())
    tx.put(grant, condition=KeyToken.token_hash.does_not_exist(), tag="token")
    try:
        tx.commit(landed=lambda: _granted_to(key.token_hash, key_id))
    except TransactionCancelled:
        raise Conflict("A key with this token already exists.", field="token") from None
    return responses.NewApiKey.of(key, token=token).body()


def _granted_to(hashed: str, key_id: str) -> bool:
    try:
        return KeyToken.get(hashed, consistent_read=True).key_id == key_id
    except KeyToken.DoesNotExist:
        return False


def ensure(body: KeyBody, token: str, created_by: str) -> bool:
    """Store a key for a token chosen elsewhere (ONCALL_ADMIN_KEY); False if it exists."""
    try:
        create(body, created_by, token=token)
    except Conflict:
        return False
    return True


def find(token: str) -> KeyToken | None:
    """The live grant of a presented token, or None (unknown, revoked or malformed)."""
    if not USABLE_TOKEN.fullmatch(token):
        return None
    try:
        grant = KeyToken.get(token_hash(token), consistent_read=True)
    except KeyToken.DoesNotExist:
        return None
    return None if grant.revoked_at is not None else grant


def list_page(limit: int, cursor: str | None) -> dict:
    start = pagination.decode(cursor, FEED_CURSOR, {"feed": FEED})
    page = ApiKey.feed_index.query(FEED, page_size=limit, last_evaluated_key=start)
    keys, resume_at = pagination.one_page(ApiKey, page)
    listed = [responses.ApiKey.of(key) for key in keys]
    return responses.ApiKeyPage(keys=listed, next_cursor=pagination.encode(resume_at)).body()


def revoke(key_id: str) -> dict:
    """Revoke a key for good: the key and its token in one transaction. Revoking a
    revoked key changes nothing and succeeds."""
    if not db.PUBLIC_ID.fullmatch(key_id):
        raise InvalidInput(f"A key id is 32 hexadecimal characters, got {key_id[:40]!r}.", field="id")
    try:
        key = ApiKey.get(key_id, consistent_read=True)
    except ApiKey.DoesNotExist:
        raise NotFound(f"There is no key with id {key_id}.") from None
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        tx = Transaction()
        tx.update(ApiKey(key_id), [ApiKey.revoked_at.set(ApiKey.revoked_at | key.revoked_at)])
        tx.update(KeyToken(key.token_hash), [KeyToken.revoked_at.set(KeyToken.revoked_at | key.revoked_at)])
        tx.commit()
    return responses.ApiKey.of(key).body()
