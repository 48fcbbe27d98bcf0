"""Heartbeat monitors: made, listed, changed and deleted by admins, and pinged by
the jobs they watch.

A heartbeat's id is a digest of its service and name, so the pair is unique by the
put's condition and a ping finds it by key. Its ping URL carries a secret shown
once and stored as its SHA-256. A ping is one UpdateItem: it records the ping and
puts the heartbeat in the sparse due index (interval + grace later, computed by
DynamoDB from the stored period), conditioned on the secret's digest (or the
caller's services); then one GetItem of the heartbeat's dedup binding says whether
an incident it opened is still open, and the ping resolves it. Checking the binding
on every ping means a ping whose resolve failed is healed by the next one."""

import hashlib
import logging
import secrets
from datetime import datetime, timedelta, timezone

from pynamodb.exceptions import UpdateError

from chalicelib import clock, db, shards
from chalicelib.api import pagination, responses
from chalicelib.api.payloads import HeartbeatBody, HeartbeatChange
from chalicelib.apikey.access import Caller
from chalicelib.errors import Busy, Conflict, InvalidInput, InvalidTransition, NotFound
from chalicelib.incident import incidents
from chalicelib.models import Heartbeat

log = logging.getLogger("oncall.heartbeats")

FEED = "heartbeats"
DUE_QUEUE = "heartbeat-due"
SECRET_PREFIX = "hb_"
SECRET_BYTES = 32
# Who opens and resolves a heartbeat's incident, as the timeline says.
ACTOR = "heartbeat"
# The one answer to a ping whose id or secret is wrong: which of the two cannot be told.
GONE = "There is no such heartbeat, or the ping URL is not its own."
# Attempts of a change that lost a race with pings.
MAX_ATTEMPTS = 6
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def heartbeat_id(service_name: str, name: str) -> str:
    """The id of the service's heartbeat called `name`: the service's length first, so
    no two pairs make the same text."""
    return hashlib.sha256(f"{len(service_name)}:{service_name}#{name}".encode()).hexdigest()[:32]


def dedup_key(heartbeat: str) -> str:
    """The explicit dedup key of the incident a heartbeat opens: bound while it is open."""
    return f"heartbeat:{heartbeat}"


def millis(instant: datetime) -> int:
    return (instant - _EPOCH) // timedelta(milliseconds=1)


def due_partition(heartbeat: str) -> str:
    return shards.partition(DUE_QUEUE, int(heartbeat, 16))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def updated(heartbeat: Heartbeat, actions: list, condition) -> bool:
    """One conditional UpdateItem, the item refreshed with what it holds after it;
    False when the condition failed, also when botocore sent the write again after
    losing the answer to one that succeeded: a ping or change is sent again by its
    caller (each sets the same values again), a claim is retried CLAIM later."""
    try:
        heartbeat.update(actions=actions, condition=condition)
    except UpdateError as error:
        if db.failed_condition(error):
            return False
        if db.is_transient(error):
            raise db.retry_later() from None
        raise
    return True


def parse_id(raw: str) -> str:
    if not db.PUBLIC_ID.fullmatch(raw):
        raise InvalidInput(f"A heartbeat id is 32 hexadecimal characters, got {raw[:40]!r}.", field="heartbeat_id")
    return raw


def status_of(heartbeat: Heartbeat) -> str:
    if heartbeat.last_ping_at is None:
        return "waiting"
    return "late" if heartbeat.late_since is not None else "up"


def shown(heartbeat: Heartbeat, model=responses.Heartbeat, **given) -> responses.Heartbeat:
    """The heartbeat as the API shows it: when it is due, unless it fired already."""
    due = heartbeat.due_ms if heartbeat.late_since is None else None
    return model.of(
        heartbeat,
        status=status_of(heartbeat),
        next_due_at=clock.from_millis(int(due)) if due is not None else None,
        interval_seconds=int(heartbeat.interval_seconds),
        grace_seconds=int(heartbeat.grace_seconds),
        **given,
    )


# --- made, read, changed, deleted by admins ----------------------------------------


def create(body: HeartbeatBody, base_url: str) -> dict:
    """A new heartbeat, waiting for its first ping; the answer is the only place its
    secret appears."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    heartbeat = Heartbeat(
        heartbeat_id(body.service_name, body.name),
        service_name=body.service_name,
        name=body.name,
        interval_seconds=body.interval_seconds,
        grace_seconds=body.grace_seconds,
        period_ms=(body.interval_seconds + body.grace_seconds) * 1000,
        secret_hash=_digest(secret),
        created_at=clock.now(),
        feed=FEED,
        # The list of every service's heartbeats is ordered by service, then name.
        listed=f"{body.service_name}\x1f{body.name}",
    )
    conflict = Conflict(f"{body.service_name} already has a heartbeat named {body.name}.", field="name")
    db.save_new(heartbeat, Heartbeat.id.does_not_exist(), conflict)
    ping_url = f"{base_url}/api/heartbeats/{heartbeat.id}/ping/{secret}"
    return shown(heartbeat, responses.NewHeartbeat, ping_url=ping_url, secret=secret).body()


def _read(heartbeat: str) -> Heartbeat:
    found = db.find(Heartbeat, parse_id(heartbeat))
    if found is None:
        raise NotFound(f"There is no heartbeat {heartbeat}.")
    return found


def get(heartbeat: str) -> dict:
    return shown(_read(heartbeat)).body()


def list_page(service_name: str | None, limit: int, cursor: str | None) -> dict:
    """One Query of a keys-only index (a service's heartbeats by name, or every
    service's), then one BatchGetItem of the page's heartbeats: what changes on every
    ping is read from the table, never projected."""
    if service_name:
        keys, next_cursor = pagination.index_page(Heartbeat, Heartbeat.service_index, service_name, limit, cursor)
    else:
        keys, next_cursor = pagination.index_page(Heartbeat, Heartbeat.feed_index, FEED, limit, cursor)
    found = {item.id: item for item in shards.read_all(Heartbeat, keys, consistent_read=False)}
    page = [shown(found[key.id]) for key in keys if key.id in found]
    return responses.HeartbeatPage(heartbeats=page, next_cursor=next_cursor).body()


def change(heartbeat: str, body: HeartbeatChange) -> dict:
    """A new interval or grace. The id and secret stay, so the ping URL does. A
    heartbeat in the due index is due again at its last ping plus the new period:
    the write is conditioned on the due time read, so a ping meanwhile (which moves
    it) has this try again on the heartbeat as it is then."""
    for _ in range(MAX_ATTEMPTS):
        current = _read(heartbeat)
        interval = body.interval_seconds if body.interval_seconds is not None else int(current.interval_seconds)
        grace = body.grace_seconds if body.grace_seconds is not None else int(current.grace_seconds)
        period_ms = (interval + grace) * 1000
        actions = [
            Heartbeat.interval_seconds.set(interval),
            Heartbeat.grace_seconds.set(grace),
            Heartbeat.period_ms.set(period_ms),
        ]
        if current.due_ms is None:
            as_read = Heartbeat.id.exists() & Heartbeat.due_ms.does_not_exist()
        else:
            as_read = Heartbeat.due_ms == current.due_ms
            if current.last_ping_at is not None:
                actions.append(Heartbeat.due_ms.set(millis(current.last_ping_at) + period_ms))
        item = Heartbeat(current.id)
        if updated(item, actions, as_read):
            return shown(item).body()
    raise Busy("The heartbeat is being pinged too often to change it now; try again.")


def delete(heartbeat: str) -> None:
    """Delete it: its URL stops working at once. An incident it opened stays open for
    responders to resolve."""
    item = Heartbeat(parse_id(heartbeat))
    if not db.settle(lambda: item.delete(condition=Heartbeat.id.exists()), lambda: False):
        raise NotFound(f"There is no heartbeat {heartbeat}.")


# --- pinged by the jobs they watch -------------------------------------------------


def ping_with_secret(heartbeat: str, secret: str) -> dict:
    """A ping through the secret URL. The secret is compared as its SHA-256, in the
    UpdateItem's condition: how long a comparison of digests takes says nothing of
    the secret. An unknown id, a malformed one and a wrong secret answer alike."""
    if not db.PUBLIC_ID.fullmatch(heartbeat) or not secret.startswith(SECRET_PREFIX) or len(secret) > 128:
        raise NotFound(GONE)
    pinged = _ping(heartbeat, Heartbeat.secret_hash == _digest(secret))
    if pinged is None:
        raise NotFound(GONE)
    return pinged


def ping_with_key(heartbeat: str, caller: Caller) -> dict:
    """A ping with an API key: an integration key only for its own services."""
    parse_id(heartbeat)
    allowed = Heartbeat.id.exists()
    if caller.services is not None:
        allowed &= Heartbeat.service_name.is_in(*sorted(caller.services))
    pinged = _ping(heartbeat, allowed)
    if pinged is None:
        # Refused: say why (a read only on this path).
        caller.require_service(_read(heartbeat).service_name)
        raise NotFound(f"There is no heartbeat {heartbeat}.")
    return pinged


def _ping(heartbeat: str, allowed) -> dict | None:
    """Record a ping if `allowed` holds (None if not), then resolve the heartbeat's open
    incident, if any. Repeating a ping writes the same, so a retried one is harmless."""
    now = clock.now()
    item = Heartbeat(heartbeat)
    actions = [
        Heartbeat.last_ping_at.set(now),
        Heartbeat.due_partition.set(due_partition(heartbeat)),
        Heartbeat.due_ms.set(Heartbeat.period_ms + millis(now)),
        Heartbeat.late_since.remove(),
    ]
    if not updated(item, actions, Heartbeat.id.exists() & allowed):
        return None
    _resolve_open_incident(item)
    return responses.HeartbeatPing(
        id=item.id, status="up", last_ping_at=now, next_due_at=clock.from_millis(int(item.due_ms))
    ).body()


def _resolve_open_incident(heartbeat: Heartbeat) -> None:
    """The ping is recorded either way: a resolve that fails here is done by the next ping."""
    incident_id = incidents.incident_for_key(heartbeat.service_name, dedup_key(heartbeat.id))
    if incident_id is None:
        return
    message = f"Heartbeat {heartbeat.name} checked in again; resolved by its monitoring source."
    try:
        incidents.resolve(incident_id, ACTOR, by_source=True, message=message)
    except InvalidTransition:
        pass  # resolved meanwhile, by another ping or a responder
    except Busy:
        log.warning("incident %s of heartbeat %s is busy; the next ping resolves it", incident_id, heartbeat.id)
