"""An incident's history. A transition is appended to the incident item by the
write that makes it (so its order is the order DynamoDB applied them); the outbox
dispatcher moves each one to the timeline table once its channels have it
(chalicelib/notify/outbox.py), so the incident item holds only the transitions not yet
handed over and does not grow with its history. Notes, notifications and escalation
stops are written to the timeline table directly."""

import uuid
from datetime import datetime, timezone

from chalicelib import clock, itemsize
from chalicelib.api import pagination, responses
from chalicelib.api.payloads import MAX_NAME_LENGTH
from chalicelib.itemsize import truncate_utf8
from chalicelib.models import Incident, IncidentEvent, TimelineEntry

# Enough for a long incident; a storm of folded alerts is summarised by alert_count.
MAX_ENTRIES = 200


# Should the dispatcher stop, every transition waits on the incident item, so their
# number and size are bounded: at most MAX_EVENTS transitions of at most
# MAX_EVENT_BYTES each (chalicelib/incident/incidents.py keeps room for them when it creates
# an incident). Escalation stops climbing at
# ESCALATION_EVENTS, reassignment is refused at MAX_EVENTS, and acknowledge and
# resolve, one each, always fit.
MAX_EVENTS = 150
ESCALATION_EVENTS = 100
# The most an incident can hold: MAX_EVENTS, then one acknowledge and one resolve.
MOST_EVENTS = MAX_EVENTS + 2
MAX_MESSAGE_BYTES = 300
# Actors are user names or a key's name with its kind ("ci (integration key)"), or a
# topic's name ("cloudwatch (oncall-alarms)", ASCII of at most 256 characters).
MAX_ACTOR_BYTES = 4 * MAX_NAME_LENGTH + 32


def event(
    kind: str,
    actor: str | None,
    message: str,
    at: datetime,
    *,
    assigned_to: str | None = None,
    request: str | None = None,
    level: int | None = None,
) -> IncidentEvent:
    return IncidentEvent(
        at=at,
        kind=kind,
        actor=None if actor is None else truncate_utf8(actor, MAX_ACTOR_BYTES),
        message=truncate_utf8(message, MAX_MESSAGE_BYTES),
        assigned_to=assigned_to,
        request=request,
        level=level,
    )


def _largest_event_bytes() -> int:
    """The stored size of the largest event `event` makes: every field at its bound
    in 4-byte characters, as one element of the events list."""
    widest = "\U0010ffff"
    largest = event(
        "acknowledged",
        widest * MAX_ACTOR_BYTES,
        widest * MAX_MESSAGE_BYTES,
        datetime(2100, 1, 1, tzinfo=timezone.utc),
        assigned_to=widest * MAX_NAME_LENGTH,
        request=new_request(),
        level=100,
    )
    return 1 + itemsize.value_size({"M": largest.serialize(largest)})


def new_request() -> str:
    """An id for one request's writes: 64 random bits, enough to tell requests apart."""
    return uuid.uuid4().hex[:16]


MAX_EVENT_BYTES = _largest_event_bytes()


def transitions(incident: Incident) -> int:
    """How many transitions the incident has had."""
    if incident.event_count is not None:
        return int(incident.event_count)
    return int(incident.notified_events or 0) + len(incident.events or [])


def written_by(incident: Incident, event: IncidentEvent) -> bool:
    """Whether `event`, a transition a request tried to write, is in the incident's
    history: still on the item, or moved to the timeline table since (its key there
    is made of the event's time and request, so that is one GetItem)."""
    if any(pending.request == event.request for pending in incident.events or []):
        return True
    if not incident.notified_events:
        return False
    try:
        TimelineEntry.get(incident.id, moved_key(event, None), consistent_read=True)
    except TimelineEntry.DoesNotExist:
        return False
    return True


def moved_key(event: IncidentEvent, position: int | None) -> str:
    """A transition's key in the timeline table: its time, then its request, which is
    unique (a transition written before requests were recorded has its position)."""
    return f"{clock.iso(event.at)}#{event.request or f'n{position:05d}'}"


def moved(incident_id: int, event: IncidentEvent, position: int) -> TimelineEntry:
    """The timeline item a transition becomes when it leaves the incident item."""
    return TimelineEntry(
        incident_id,
        moved_key(event, position),
        at=event.at,
        kind=event.kind,
        actor=event.actor,
        message=event.message,
        request=event.request,
        position=position,
    )


def entry(incident_id: int, kind: str, actor: str | None, message: str, at: datetime) -> TimelineEntry:
    # The random suffix keeps two entries written in the same microsecond apart.
    key = f"{clock.iso(at)}#{uuid.uuid4().hex[:12]}"
    return TimelineEntry(incident_id, key, at=at, kind=kind, actor=actor, message=message)


def as_json(item: IncidentEvent | TimelineEntry) -> dict:
    return responses.TimelineEntry.of(item).body()


def history(incident: Incident) -> list[dict]:
    """Oldest first; of the timeline table, the newest MAX_ENTRIES (one Query page).
    `incident` must have been read before this: a transition moved in between is
    then in both reads, and shown once."""
    newest = TimelineEntry.query(incident.id, scan_index_forward=False, page_size=MAX_ENTRIES)
    entries, _ = pagination.one_page(TimelineEntry, newest)
    done = int(incident.notified_events or 0)
    pending = incident.events or []
    requests = {event.request for event in pending if event.request}
    # Transitions in their order, then the rest, among entries of the same instant.
    ranked = [(event.at, done + n, event) for n, event in enumerate(pending)]
    ranked += [
        (entry.at, MOST_EVENTS if entry.position is None else int(entry.position), entry)
        for entry in reversed(entries)
        if entry.request not in requests
    ]
    ranked.sort(key=lambda found: found[:2])
    return [as_json(item) for _, _, item in ranked]
