"""Who may call what. Every route declares the roles it admits; `check` runs
before the route's own code and names the caller, from its API key."""

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.api import responses
from chalicelib.apikey import keys
from chalicelib.config import settings
from chalicelib.errors import Forbidden, Unauthenticated

ADMIN = "admin"
RESPONDER = "responder"
INTEGRATION = "integration"

# What each route admits (see chalicelib/routes/). An empty set means no key is needed.
PUBLIC: frozenset[str] = frozenset()
READ = frozenset({ADMIN, RESPONDER})
RESPOND = frozenset({ADMIN, RESPONDER})
TRIGGER = frozenset({ADMIN, RESPONDER, INTEGRATION})
MANAGE = frozenset({ADMIN})
# A heartbeat's check-in with a key resolves its incident as its monitoring source would:
# a tool's key (or an admin's), never a responder's, who must acknowledge first.
CHECK_IN = frozenset({ADMIN, INTEGRATION})


@dataclass(frozen=True)
class Caller:
    key_id: str
    key_name: str
    role: str
    user: str | None
    services: frozenset[str] | None

    @property
    def actor(self) -> str:
        """The name the timeline and the incident record for what this caller does."""
        return self.user or f"{self.key_name} ({self.role} key)"

    def describe(self) -> dict:
        return responses.Caller.of(self).body()

    def require_self(self, user: str) -> None:
        """Admins act for anyone; a responder only for the user its key acts as (its own
        contact methods and rules: self-service)."""
        if self.role == ADMIN or (self.user is not None and self.user == user):
            return
        acting = f"acting as {self.user}" if self.user else "acting as no user"
        raise Forbidden(f"This {self.role} key, {acting}, may change only its own user's settings, not {user}'s.")

    def require_service(self, service_name: str) -> None:
        if self.services is not None and service_name not in self.services:
            allowed = ", ".join(sorted(self.services))
            raise Forbidden(
                f"This integration key may trigger only {allowed}, not {service_name}.", field="service_name"
            )


def presented_token(headers) -> str | None:
    """`Authorization: Bearer <token>`, else `X-API-Key: <token>`."""
    authorization = (headers.get("authorization") or "").strip()
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("The Authorization header must be 'Bearer <token>'.", field="authorization")
        return token.strip()
    api_key = (headers.get("x-api-key") or "").strip()
    return api_key or None


def check(headers, admitted: frozenset[str]) -> Caller | None:
    """The caller behind the request's key, if its role is admitted; None for public routes."""
    if not admitted:
        return None
    token = presented_token(headers)
    if token is None:
        raise Unauthenticated("This call needs an API key: send 'Authorization: Bearer <token>'.")
    caller = authenticate(token)
    if caller.role not in admitted:
        allowed = " or ".join(sorted(admitted))
        article = "An" if caller.role[0] in "aeiou" else "A"
        raise Forbidden(f"{article} {caller.role} key may not make this call; it takes a key with the role {allowed}.")
    return caller


def authenticate(token: str) -> Caller:
    """The caller a token belongs to, for integrations that carry the key in the
    body (PagerDuty's routing_key); raises Unauthenticated."""
    return _cache.get(token) or _lookup(token)


def _lookup(token: str) -> Caller:
    generation = _cache.generation
    grant = keys.find(token)
    if grant is None:
        raise Unauthenticated("The API key is unknown or has been revoked.")
    caller = Caller(
        key_id=grant.key_id,
        key_name=grant.name,
        role=grant.role,
        user=grant.user,
        services=frozenset(grant.services or ()) if grant.role == INTEGRATION else None,
    )
    _cache.put(token, caller, generation)
    return caller


class _KeyCache:
    """Keys verified in the last ONCALL_KEY_CACHE_SECONDS (0 in tests). This is what
    keeps a busy function (or `make run`) from reading the key table on every
    request; a key revoked by another process can live on here for that long."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Caller, datetime]] = {}
        self._lock = threading.Lock()
        # Counts the clears: a key read before a revocation cleared the cache is not cached
        # after it (the read may have seen the key still live).
        self.generation = 0

    def get(self, token: str) -> Caller | None:
        if settings().key_cache_seconds == 0:
            return None
        with self._lock:
            entry = self._entries.get(keys.token_hash(token))
        if entry is None or entry[1] <= clock.now():
            return None
        return entry[0]

    def put(self, token: str, caller: Caller, generation: int) -> None:
        seconds = settings().key_cache_seconds
        if seconds == 0:
            return
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) > 1000:
                self._entries.clear()
            self._entries[keys.token_hash(token)] = (caller, clock.now() + timedelta(seconds=seconds))

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()


_cache = _KeyCache()


def forget_keys() -> None:
    """Drop every cached key: a key revoked here, or tests that change the cache setting."""
    _cache.clear()
