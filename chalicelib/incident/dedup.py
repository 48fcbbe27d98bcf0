"""Alert deduplication: which open incident a new alert folds into.

The dedup item (service + dedup key -> incident id) is the lock: it is created
in the transaction that opens an incident, on condition that no live item
exists, so two racing triggers can never open two incidents for one alert.
"""

import hashlib
from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError

from chalicelib import db
from chalicelib.config import settings
from chalicelib.models import Dedup

# Stale keys linger this long before DynamoDB's TTL may delete them.
EXPIRY_GRACE = timedelta(days=7)


def key_for(service_name: str, title: str, explicit_key: str | None) -> tuple[str, bool]:
    """The dedup key of an alert and whether the caller chose it.

    The prefixes keep a caller's key from ever colliding with a derived one.
    """
    if explicit_key is not None:
        return Dedup.EXPLICIT + explicit_key, True
    digest = hashlib.sha256(f"{service_name}\x00{title}".encode()).hexdigest()
    return "title:" + digest, False


def alert_key(service_name: str, key: str) -> str:
    """The dedup item's key: the service's length first, so no two (service, key)
    pairs make the same text whatever characters they hold."""
    return f"{len(service_name)}:{service_name}#{key}"


def _item(service_name: str, key: str, **attributes) -> Dedup:
    return Dedup(alert_key(service_name, key), service_name=service_name, dedup_key=key, **attributes)


def window_start(now: datetime) -> datetime:
    return now - timedelta(seconds=settings().dedup_window_seconds)


def _expiry(now: datetime) -> int:
    return int((now + timedelta(seconds=settings().dedup_window_seconds) + EXPIRY_GRACE).timestamp())


def fold(service_name: str, key: str, explicit: bool, now: datetime) -> Dedup | None:
    """The live dedup item (with the incident it points at), or None when there is
    none (the alert must open an incident).

    An explicit key is live while its item exists (its incident's resolve deletes
    it), so reading it is enough. A derived key is live while its last alert is
    within the window: the fold slides the window to `now`, a write that only moves
    times forward, so repeating it is harmless. Either way the alerts are counted on
    the incident's alert tally (chalicelib/incident/incidents.py).
    """
    if explicit:
        try:
            return Dedup.get(alert_key(service_name, key), consistent_read=True)
        except Dedup.DoesNotExist:
            return None
    item = _item(service_name, key)
    live = Dedup.incident_id.exists() & (Dedup.last_alert_at >= window_start(now))
    try:
        item.update(actions=[Dedup.last_alert_at.set(now), Dedup.expires_at.set(_expiry(now))], condition=live)
    except UpdateError as error:
        if db.failed_condition(error):
            return None
        raise
    return item


def claim(incident_id: int, service_name: str, key: str, explicit: bool, now: datetime, dead_incident_id: int | None):
    """The dedup item and the condition under which a new incident may take it:
    no live item exists, or the item still points at `dead_incident_id`, an
    incident this request saw resolved."""
    item = _item(
        service_name,
        key,
        incident_id=incident_id,
        explicit=explicit,
        last_alert_at=now,
        # An explicit key binds for as long as its incident is open: no expiry.
        expires_at=None if explicit else _expiry(now),
    )
    free = Dedup.incident_id.does_not_exist()
    if not explicit:
        free |= Dedup.last_alert_at < window_start(now)
    if dead_incident_id is not None:
        free |= Dedup.incident_id == dead_incident_id
    return item, free


def bound_incident(service_name: str, key: str) -> int | None:
    """The incident an explicit key is bound to (bound while that incident is open)."""
    try:
        return int(Dedup.get(alert_key(service_name, key), consistent_read=True).incident_id)
    except Dedup.DoesNotExist:
        return None


def release(service_name: str, key: str, incident_id: int):
    """The dedup item to delete when `incident_id` resolves, and the condition that
    it still belongs to that incident (a newer incident may have taken a stale key)."""
    item = _item(service_name, key)
    return item, (Dedup.incident_id == incident_id) | Dedup.incident_id.does_not_exist()
