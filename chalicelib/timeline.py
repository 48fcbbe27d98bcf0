"""An incident's history: transitions (kept on the incident item) merged with
the timeline table's alerts, notes and notifications."""

import uuid
from datetime import datetime

from . import clock, pagination
from .models import Incident, IncidentEvent, TimelineEntry

# Enough for a long incident; a storm of folded alerts is summarised by alert_count.
MAX_ENTRIES = 200


# The incident item holds its transitions and must stay under DynamoDB's 400 KB with
# a 64 KiB description and 64 KiB of details: at most MAX_EVENTS transitions of at
# most MAX_MESSAGE_BYTES each (plus actor and assignee names of at most 128
# characters). Escalation stops climbing at ESCALATION_EVENTS, reassignment is
# refused at MAX_EVENTS, and acknowledge and resolve, one each, always fit.
MAX_EVENTS = 150
ESCALATION_EVENTS = 100
MAX_MESSAGE_BYTES = 300


def _bounded(message: str) -> str:
    if len(message.encode()) <= MAX_MESSAGE_BYTES:
        return message
    cut = message.encode()[: MAX_MESSAGE_BYTES - 3].decode(errors="ignore")
    return cut + "…"


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
        at=at, kind=kind, actor=actor, message=_bounded(message), assigned_to=assigned_to, request=request
    )


def new_request() -> str:
    """An id for one request's writes: 64 random bits, enough to tell requests apart."""
    return uuid.uuid4().hex[:16]


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
    return {"at": clock.iso(item.at), "kind": item.kind, "actor": item.actor, "message": item.message}


def history(incident: Incident) -> list[dict]:
    """Oldest first; of the timeline table, the newest MAX_ENTRIES (one Query page)."""
    newest = TimelineEntry.query(incident.id, scan_index_forward=False, page_size=MAX_ENTRIES)
    entries, _ = pagination.one_page(TimelineEntry, newest)
    merged = [as_json(e) for e in incident.events or []] + [as_json(e) for e in entries]
    merged.sort(key=lambda e: e["at"])
    return merged
