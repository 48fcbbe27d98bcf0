"""API keys: created with a random token shown once, stored as its SHA-256,
listed without it, revoked by id."""

import hashlib
import secrets
import uuid

from pynamodb.exceptions import UpdateError

from . import clock, db, pagination
from .errors import Conflict, NotFound
from .models import ApiKey
from .payloads import KeyBody

FEED = "key"
FEED_CURSOR = {"feed": "S", "created_key": "S", "token_hash": "S"}
TOKEN_PREFIX = "oncall_"
# 32 random bytes; the prefix lets secret scanners and people recognise a token.
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 256


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def to_json(key: ApiKey) -> dict:
    return {
        "id": key.id,
        "name": key.name,
        "role": key.role,
        "user": key.user,
        "services": sorted(key.services) if key.services else None,
        "created_at": clock.iso(key.created_at),
        "created_by": key.created_by,
        "revoked_at": clock.iso(key.revoked_at),
    }


def create(body: KeyBody, created_by: str | None, *, token: str | None = None) -> dict:
    """Store a new key; the answer is the only place its token ever appears."""
    token = token or new_token()
    now = clock.now()
    key_id = uuid.uuid4().hex
    key = ApiKey(
        token_hash(token),
        id=key_id,
        name=body.name,
        role=body.role,
        user=body.user,
        services=set(body.services) if body.services else None,
        created_at=now,
        created_by=created_by,
        feed=FEED,
        created_key=f"{clock.iso(now)}#{key_id}",
    )
    db.save_new(key, ApiKey.token_hash.does_not_exist(), Conflict("A key with this token already exists."))
    return {**to_json(key), "token": token}


def ensure(body: KeyBody, token: str, created_by: str) -> bool:
    """Store a key for a token chosen elsewhere (ONCALL_ADMIN_KEY); False if it exists."""
    try:
        create(body, created_by, token=token)
    except Conflict:
        return False
    return True


def find(token: str) -> ApiKey | None:
    """The live key for a presented token, or None (unknown, revoked or malformed)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        key = ApiKey.get(token_hash(token), consistent_read=True)
    except ApiKey.DoesNotExist:
        return None
    return None if key.revoked_at is not None else key


def list_page(limit: int, cursor: str | None) -> dict:
    start = pagination.decode(cursor, FEED_CURSOR, {"feed": FEED})
    page = ApiKey.feed_index.query(FEED, page_size=limit, last_evaluated_key=start)
    keys, resume_at = pagination.one_page(ApiKey, page)
    return {"keys": [to_json(key) for key in keys], "next_cursor": pagination.encode(resume_at)}


def revoke(key_id: str) -> dict:
    """Revoke a key for good. Revoking a revoked key changes nothing and succeeds."""
    key = db.keys_by_public_id(ApiKey, key_id, "key")
    try:
        key.update(
            actions=[ApiKey.revoked_at.set(ApiKey.revoked_at | clock.now())],
            condition=ApiKey.id == key_id,
        )
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise NotFound(f"There is no key with id {key_id}.") from None
        raise
    return to_json(key)
