"""The overdue check: every heartbeat whose ping did not come within interval +
grace opens an incident for its service, once.

It Queries the sparse due index (one Query per shard) for heartbeats due by now,
then for each: claims it with an UpdateItem conditioned on the due time it read,
moving that time CLAIM later (so two overlapping checks fire it once, and a check
that dies before the trigger is retried then); opens the incident through the
normal trigger path, while the claim holds (a ping meanwhile wins: it moved the due
time, and nothing opens); then takes it out of the due index, conditioned on the
claim, until its next ping. A ping after the incident opened resolves it. A
heartbeat never pinged is not in the index, so it never fires."""

import logging
from datetime import datetime, timedelta

from chalicelib import clock, db, shards
from chalicelib.api import responses
from chalicelib.api.payloads import TriggerBody
from chalicelib.heartbeat.monitors import ACTOR, DUE_QUEUE, dedup_key, millis, updated
from chalicelib.incident import incidents
from chalicelib.models import Heartbeat

log = logging.getLogger("oncall.heartbeats")

CLAIM = timedelta(minutes=2)


def due_keys(now: datetime) -> list[Heartbeat]:
    return shards.keys_in(Heartbeat.due_index, DUE_QUEUE, Heartbeat.due_ms <= millis(now))


def run() -> dict:
    """Fire every heartbeat that is overdue. Safe to run concurrently."""
    now = clock.now()
    fired = []
    for key in due_keys(now):
        try:
            if _fire(key):
                fired.append(key.id)
        except Exception:  # one heartbeat that cannot be written must not stop the others
            log.exception("the overdue check of heartbeat %s failed; the check goes on", key.id)
    return responses.HeartbeatCheck(fired=len(fired), heartbeats=fired).body()


def _fire(key: Heartbeat) -> bool:
    # The time of this claim, not of the run's start: a long run's claims are not stale.
    now = clock.now()
    claimed = millis(now + CLAIM)
    heartbeat = Heartbeat(key.id)
    # The index may be behind: the condition is on the due time as the item holds it.
    if not updated(heartbeat, [Heartbeat.due_ms.set(claimed)], Heartbeat.due_ms == key.due_ms):
        return False
    last_seen = clock.iso(heartbeat.last_ping_at) if heartbeat.last_ping_at else "never"
    interval, grace = int(heartbeat.interval_seconds), int(heartbeat.grace_seconds)
    body = TriggerBody(
        service_name=heartbeat.service_name,
        title=f"Heartbeat {heartbeat.name} missed its check-in, last seen {last_seen}",
        description=f"It checks in every {interval} s, with {grace} s of grace; no ping came since {last_seen}.",
        dedup_key=dedup_key(heartbeat.id),
    )
    origin = incidents.Origin(
        source="heartbeat",
        details={
            "heartbeat_id": heartbeat.id,
            "heartbeat": heartbeat.name,
            "interval_seconds": interval,
            "grace_seconds": grace,
            "last_ping_at": last_seen,
            "due_at": clock.iso(clock.from_millis(int(key.due_ms))),
        },
    )
    still_claimed = Heartbeat.due_ms == claimed
    # Out of the due index until its next ping (which also resolves the incident), in
    # the transaction that opens the incident: a check that dies after it cannot fire again.
    fired = (Heartbeat.due_partition.remove(), Heartbeat.due_ms.remove(), Heartbeat.late_since.set(now))
    try:
        guard = db.Guard(Heartbeat, heartbeat.id, still_claimed, fired)
        _, opened = incidents.trigger(body, ACTOR, origin, guard=guard)
    except db.Superseded:
        return False  # pinged (or changed) since the claim: not late after all
    if not opened:
        # Folded into its incident still open (a ping's resolve failed): no transaction
        # opened anything, so leave the due index now.
        updated(heartbeat, list(fired), still_claimed)
    return True
