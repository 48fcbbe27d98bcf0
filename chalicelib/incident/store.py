"""The incidents table's writes. Every item, update action and condition on an
Incident is made here, so a change to the item's shape (a new queue, an attribute
that moves) is a change in one place. Each function returns what one write needs;
the modules that decide when to write (incidents, escalation, outbox) send them,
alone or in a transaction with other tables' items."""

from datetime import datetime

from pynamodb.expressions.condition import size

from chalicelib import shards, status
from chalicelib.models import Incident, IncidentEvent

# The sharded partitions every incident is in (chalicelib/shards.py): the list of all
# incidents, incidents waiting for their next escalation step, incidents with events
# owed to their channels. A status's list is its own: `became`.
LIST = "incidents"
DUE_QUEUE = "due"
OUTBOX_QUEUE = "outbox"


def new(number: int, *, first_event: IncidentEvent, escalates_at: datetime, **fields) -> Incident:
    """A new incident (`fields`: what the alert said), in every list, due to escalate,
    and owing its first event to its channels."""
    return Incident(
        number,
        status=status.TRIGGERED,
        status_partition=shards.partition(status.TRIGGERED, number),
        escalation_level=0,
        alert_count=1,
        last_alert_at=first_event.at,
        feed=shards.partition(LIST, number),
        due_partition=shards.partition(DUE_QUEUE, number),
        due_at=escalates_at,
        events=[first_event],
        event_count=1,
        notified_events=0,
        outbox_partition=shards.partition(OUTBOX_QUEUE, number),
        outbox_at=first_event.at,
        **fields,
    )


def is_new():
    return Incident.id.does_not_exist()


def stored():
    return Incident.id.exists()


# --- pieces every transition is made of -------------------------------------------


def became(new_status: str, incident_id: int) -> list:
    """Set the status, and move the incident to that status's list."""
    return [
        Incident.status.set(new_status),
        Incident.status_partition.set(shards.partition(new_status, incident_id)),
    ]


def escalation_stopped() -> list:
    """Take the incident out of the sparse due index."""
    return [Incident.due_partition.remove(), Incident.due_at.remove()]


def recorded(event: IncidentEvent, incident_id: int, now: datetime) -> list:
    """Append `event` to the incident's transitions and owe it to the channels. The
    oldest owed time is kept, so the outbox index says how long it has waited."""
    return [
        Incident.events.set(Incident.events.append([event])),
        Incident.event_count.add(1),
        Incident.outbox_partition.set(shards.partition(OUTBOX_QUEUE, incident_id)),
        Incident.outbox_at.set(Incident.outbox_at | now),
    ]


def room_for(transitions: int):
    """The incident has had fewer than `transitions` transitions."""
    return Incident.event_count.does_not_exist() | (Incident.event_count < transitions)


# --- the transitions -----------------------------------------------------------------


def acknowledged(incident_id: int, actor: str | None, event: IncidentEvent) -> tuple[list, object]:
    actions = [
        *became(status.ACKNOWLEDGED, incident_id),
        Incident.acknowledged_at.set(event.at),
        Incident.acknowledged_by.set(actor),
        *recorded(event, incident_id, event.at),
        *escalation_stopped(),
    ]
    return actions, Incident.status.is_in(*status.ACKNOWLEDGE_FROM)


def resolved(
    incident: Incident, actor: str | None, event: IncidentEvent, alerts: tuple[int, datetime] | None
) -> tuple[list, object]:
    """Resolve `incident`, conditioned on the status it was read with; `alerts`, the
    final count and the last alert's time, are copied onto it when given."""
    actions = [
        *became(status.RESOLVED, incident.id),
        Incident.resolved_at.set(event.at),
        Incident.resolved_by.set(actor),
        *recorded(event, incident.id, event.at),
        *escalation_stopped(),
    ]
    if alerts is not None:
        count, last_alert_at = alerts
        actions += [Incident.alert_count.set(count), Incident.last_alert_at.set(last_alert_at)]
    return actions, Incident.status == incident.status


def reassigned(incident_id: int, user: str, event: IncidentEvent, most_transitions: int) -> tuple[list, object]:
    """Hand an open incident to `user`, refused if it is theirs already or has had
    `most_transitions`."""
    actions = [Incident.assigned_to.set(user), *recorded(event, incident_id, event.at)]
    condition = (
        Incident.status.is_in(*status.REASSIGN_FROM)
        & (Incident.assigned_to.does_not_exist() | (Incident.assigned_to != user))
        & room_for(most_transitions)
    )
    return actions, condition


def escalated(incident_id: int, event: IncidentEvent) -> list:
    return [
        *became(status.ESCALATED, incident_id),
        Incident.escalated_at.set(Incident.escalated_at | event.at),
        *recorded(event, incident_id, event.at),
    ]


def stepped(level: int, round_number: int, due_at: datetime, assignee: str | None) -> list:
    """An escalation step's place on the policy, when the next is due, and whom it paged first."""
    actions = [
        Incident.escalation_level.set(level),
        Incident.escalation_round.set(round_number),
        Incident.due_at.set(due_at),
    ]
    if assignee is not None:
        actions.append(Incident.assigned_to.set(assignee))
    return actions


def looked_at_later(due_at: datetime, window_end: datetime) -> list:
    """A suppressed incident's next look by the sweep, and the end of the window that
    suppresses it now (chalicelib/incident/suppression.py)."""
    return [Incident.due_at.set(due_at), Incident.suppressed_until.set(window_end)]


def suppression_ended(incident_id: int, event: IncidentEvent, due_at: datetime) -> list:
    """The end of a suppressed incident's silence, at `event` (which pages its assignee),
    and when it escalates unless acknowledged."""
    return [
        *recorded(event, incident_id, event.at),
        Incident.suppression_ended_at.set(event.at),
        Incident.due_at.set(due_at),
    ]


def events_as_read(incident: Incident):
    """No transition was made since `incident` was read."""
    if incident.event_count is None:
        return Incident.event_count.does_not_exist()
    return Incident.event_count == incident.event_count


def as_swept(incident: Incident):
    """What an escalation step commits on: exactly the state the sweep read, so a
    concurrent ack, resolve or other sweep changes one of these and the step is not
    taken."""
    read_round = int(incident.escalation_round or 0)
    same_round = Incident.escalation_round == read_round
    if read_round == 0:
        same_round = same_round | Incident.escalation_round.does_not_exist()
    return (
        (Incident.status == incident.status)
        & (Incident.escalation_level == incident.escalation_level)
        & same_round
        & (Incident.due_at == incident.due_at)
        & Incident.status.is_in(*status.ESCALATE_FROM)
    )


# --- the outbox ------------------------------------------------------------------------


def _handed(count: int):
    if count == 0:
        return Incident.notified_events.does_not_exist() | (Incident.notified_events == 0)
    return Incident.notified_events == count


def handed_over(index: int, assignee: str | None, state: str, *, last: bool) -> tuple[list, object]:
    """Take transition `index`, the first still waiting, off the item (the caller
    writes it to the timeline and its deliveries in the same transaction); `last`:
    it is the last one waiting, so the incident leaves the outbox, unless another
    was appended meanwhile."""
    # The condition on the count makes events[0] this very event.
    actions = [
        Incident.events[0].remove(),
        Incident.notified_events.set(index + 1),
        Incident.handed_status.set(state),
        Incident.handed_assignee.set(assignee) if assignee is not None else Incident.handed_assignee.remove(),
    ]
    condition = _handed(index)
    if last:
        actions += [Incident.outbox_partition.remove(), Incident.outbox_at.remove()]
        condition &= size(Incident.events) == 1
    return actions, condition


def left_outbox(handed: int) -> tuple[list, object]:
    """Leave the outbox with nothing waiting, unless a transition came meanwhile."""
    actions = [Incident.outbox_partition.remove(), Incident.outbox_at.remove()]
    return actions, _handed(handed) & (size(Incident.events) == 0)


# --- the queues, read -------------------------------------------------------------------


def due_keys(now: datetime) -> list[Incident]:
    return shards.keys_in(Incident.due_index, DUE_QUEUE, Incident.due_at <= now)


def owing_keys(now: datetime) -> list[Incident]:
    return shards.keys_in(Incident.outbox_index, OUTBOX_QUEUE, Incident.outbox_at <= now)
