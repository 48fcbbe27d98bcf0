"""An incident's history: transitions (kept on the incident item) merged with
the timeline table's alerts, notes and notifications."""

import uuid
from datetime import datetime, timezone

from . import clock, itemsize, pagination, responses
from .itemsize import truncate_utf8
from .models import Incident, IncidentEvent, TimelineEntry
from .payloads import MAX_NAME_LENGTH

# Enough for a long incident; a storm of folded alerts is summarised by alert_count.
MAX_ENTRIES = 200


# The incident item holds its transitions, so their number and size are bounded:
# at most MAX_EVENTS transitions of at most MAX_EVENT_BYTES each (chalicelib/incidents.py
# keeps room for them when it creates an incident). Escalation stops climbing at
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
) -> IncidentEvent:
    return IncidentEvent(
        at=at,
        kind=kind,
        actor=None if actor is None else truncate_utf8(actor, MAX_ACTOR_BYTES),
        message=truncate_utf8(message, MAX_MESSAGE_BYTES),
        assigned_to=assigned_to,
        request=request,
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
    )
    return 1 + itemsize.value_size({"M": largest.serialize(largest)})


def new_request() -> str:
    """An id for one request's writes: 64 random bits, enough to tell requests apart."""
    return uuid.uuid4().hex[:16]


MAX_EVENT_BYTES = _largest_event_bytes()


def written_by(incident: Incident, request: str) -> bool:
    """Whether one of the incident's transitions is this request's."""
    return any(event.request == request for event in incident.events or [])


def recorded(event: IncidentEvent):
    """The update action that appends `event` to the incident's own history."""
    return Incident.events.set(Incident.events.append([event]))


def entry(incident_id: int, kind: str, actor: str | None, message: str, at: datetime) -> TimelineEntry:
    # The random suffix keeps two entries written in the same microsecond apart.
    key = f"{clock.iso(at)}#{uuid.uuid4().hex[:12]}"
    return TimelineEntry(incident_id, key, at=at, kind=kind, actor=actor, message=message)


def as_json(item: IncidentEvent | TimelineEntry) -> dict:
    return responses.TimelineEntry.of(item).body()


def history(incident: Incident) -> list[dict]:
    """Oldest first; of the timeline table, the newest MAX_ENTRIES (one Query page)."""
    newest = TimelineEntry.query(incident.id, scan_index_forward=False, page_size=MAX_ENTRIES)
    entries, _ = pagination.one_page(TimelineEntry, newest)
    merged = [as_json(e) for e in incident.events or []] + [as_json(e) for e in entries]
    merged.sort(key=lambda e: e["at"])
    return merged
