"""The incident's outbox: transitions committed but not yet handed to the service's
notification channels.

Every transition appends to Incident.events in the write that changes the status,
and the same write puts the incident in the sparse outbox index. The dispatcher
turns each waiting event into one Delivery per channel and moves it to the
timeline table, in one transaction. So a page is owed from the
moment the state changes, even if the process dies right after, and it is the
committed events that are sent, never an in-memory intention."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pynamodb.exceptions import UpdateError

from chalicelib import clock, db, shards, status
from chalicelib.config import settings
from chalicelib.db import Transaction, TransactionCancelled
from chalicelib.incident import store, timeline
from chalicelib.models import Channel, Delivery, Incident, IncidentEvent
from chalicelib.notify import channels, delivery_store, pages

# The dispatcher re-reads an incident whose events grew while it worked; this bounds it.
MAX_PASSES = 4

STATUS_AFTER = {
    "triggered": status.TRIGGERED,
    "acknowledged": status.ACKNOWLEDGED,
    "resolved": status.RESOLVED,
    "escalated": status.ESCALATED,
}


def incident_url(incident_id: int) -> str | None:
    base = settings().console_url
    return f"{base}/#/incidents/{incident_id}" if base else None


def as_of(event: IncidentEvent, before: tuple[str | None, str | None]) -> tuple[str | None, str | None]:
    """(assignee, status) right after `event`, given them right before it: a message
    sent late still says what was true when its event happened."""
    assignee, state = before
    if event.kind == "triggered":
        # The trigger names its assignee, or no one when nobody was on call.
        return event.assigned_to, status.TRIGGERED
    if event.assigned_to is not None:
        assignee = event.assigned_to
    return assignee, STATUS_AFTER.get(event.kind, state)


def message(incident: Incident, event: IncidentEvent, index: int, assignee: str | None, state: str | None) -> dict:
    """What every channel says about one event, as of that event."""
    return {
        "event": f"incident.{event.kind}",
        "event_id": f"{incident.id}-{index}",
        "at": clock.iso(event.at),
        "actor": event.actor,
        "text": event.message,
        "incident": {
            "id": incident.id,
            "service_name": incident.service_name,
            "title": incident.title,
            "severity": incident.severity,
            "status": state or incident.status,
            "assigned_to": assignee,
            "created_at": clock.iso(incident.created_at),
            "url": incident_url(incident.id),
        },
    }


@dataclass
class Handed:
    """What dispatching handed over: how many transitions, and the deliveries that
    made (each due for its first attempt now)."""

    events: int = 0
    deliveries: list[Delivery] = field(default_factory=list)


def dispatch_waiting(now: datetime) -> Handed:
    """Hand every owed event to its service's channels. Safe to run concurrently."""
    return dispatch_all(shards.read_all(Incident, store.owing_keys(now)), now)


def dispatch_all(waiting: Iterable[Incident], now: datetime) -> Handed:
    """Hand these incidents' owed events to their services' channels."""
    per_service: dict[str, list[Channel]] = {}
    handed = Handed()
    for incident in waiting:
        if incident.service_name not in per_service:
            per_service[incident.service_name] = channels.of_service(incident.service_name)
        done = dispatch(incident, per_service[incident.service_name], now)
        handed.events += done.events
        handed.deliveries += done.deliveries
    return handed


def in_stream(records: Iterable[Mapping]) -> list[Incident]:
    """The incidents a batch of the incidents stream's records (NEW_IMAGE) shows in
    the outbox, each as its newest record has it. An image may be older than the
    item: dispatching conditions every write on what is stored, and re-reads."""
    newest: dict[int, Incident] = {}
    for record in records:
        image = record.get("dynamodb", {}).get("NewImage")
        if image and "outbox_partition" in image:
            incident = Incident.from_raw_data(image)
            newest[incident.id] = incident
    return list(newest.values())


def dispatch(incident: Incident, targets: list[Channel], now: datetime) -> Handed:
    """Hand the incident's waiting transitions to the channels, oldest first, one
    transaction each: its deliveries, its timeline item, and its removal from the
    incident. `incident` may be stale: every write is conditioned on the number of
    transitions already handed, so a stale or concurrent dispatcher writes nothing."""
    handed = Handed()
    for _ in range(MAX_PASSES):
        waiting = incident.events or []
        done = int(incident.notified_events or 0)
        if not waiting:
            # Nothing owed in this copy: leave the outbox, unless the copy is stale.
            if _close(incident.id, done):
                return handed
        else:
            before = (incident.handed_assignee, incident.handed_status)
            for position, event in enumerate(waiting):
                after = as_of(event, before)
                last = position + 1 == len(waiting)
                deliveries = _hand_over(incident, done, event, after, targets, now, last=last)
                if deliveries is None:
                    break
                handed.events += 1
                handed.deliveries += deliveries
                done += 1
                before = after
            else:
                return handed
        try:
            incident = Incident.get(incident.id, consistent_read=True)
        except Incident.DoesNotExist:
            return handed
        if incident.outbox_partition is None:
            return handed
    return handed


def _hand_over(
    incident: Incident,
    index: int,
    event: IncidentEvent,
    after: tuple[str | None, str | None],
    targets: list[Channel],
    now: datetime,
    *,
    last: bool,
) -> list[Delivery] | None:
    """The deliveries made, or None when the transition was not this call's to hand."""
    tx = Transaction()
    body = message(incident, event, index, *after)
    deliveries = []
    # An event made while the incident was suppressed (a maintenance window) goes to the
    # timeline only. The image that holds the event holds the end of the suppression if
    # that came first: the sweep writes it before any later event.
    silenced = incident.suppressed_at(event.at)
    for channel in () if silenced else targets:
        key = f"{index:05d}#{channel.id}"
        deliveries.append(
            delivery_store.owed(
                incident.id, key, incident.service_name, event.kind, body, now, now, channel_id=channel.id
            )
        )
    paging, warnings = ([], []) if silenced else pages.plan(incident, event, index, body, now)
    deliveries += paging
    for delivery in deliveries:
        tx.put(delivery, condition=delivery_store.is_new(), tag="delivery")
    for warning in warnings:
        tx.put(warning)
    tx.put(timeline.moved(incident.id, event, index))
    actions, condition = store.handed_over(index, *after, last=last)
    tx.update(Incident(incident.id), actions, condition=condition, tag="incident")
    try:
        tx.commit()
    except TransactionCancelled:
        return None
    return deliveries


def _close(incident_id: int, done: int) -> bool:
    actions, condition = store.left_outbox(done)
    try:
        Incident(incident_id).update(actions=actions, condition=condition)
    except UpdateError as error:
        if db.failed_condition(error):
            return False
        raise
    return True
