"""Incidents: trigger (with dedup), acknowledge, resolve, notes and reassignment, read and list."""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from chalicelib import clock, db, itemsize, shards, status, telemetry
from chalicelib.api import pagination, responses
from chalicelib.api.payloads import MAX_INCIDENT_ID, MAX_NAME_LENGTH, TriggerBody, whole_number
from chalicelib.config import settings
from chalicelib.db import Transaction, TransactionCancelled
from chalicelib.errors import Busy, Conflict, InvalidInput, InvalidTransition, NotFound
from chalicelib.incident import alert_log, dedup, details, metrics, store, suppression, timeline
from chalicelib.maintenance import windows
from chalicelib.models import AlertTally, Dedup, Incident, IncidentEvent, Stats
from chalicelib.report import buckets
from chalicelib.schedule import oncall


@dataclass(frozen=True)
class Origin:
    """What a monitoring integration sent besides the alert itself."""

    source: str | None = None
    details: dict | None = None


# Contended triggers retry; each retry means another request changed the state we read.
MAX_ATTEMPTS = 6
MAX_ID = MAX_INCIDENT_ID + 1
# How long a closed alert tally is kept (DynamoDB TTL): only a fold that raced the
# resolve reads it, within the same request.
TALLY_KEPT = timedelta(days=1)


def parse_id(raw: str) -> int:
    number = whole_number(raw, 1, MAX_ID - 1)
    if number is None:
        raise InvalidInput(f"Incident id must be a positive whole number, got {raw[:40]!r}.", field="id")
    return number


def to_json(incident: Incident) -> dict:
    return responses.Incident.of(incident).body()


def escalation_due(after: datetime) -> datetime:
    return after + timedelta(seconds=settings().escalate_after_seconds)


# --- trigger -----------------------------------------------------------------


def trigger(
    body: TriggerBody, actor: str | None, origin: Origin | None = None, *, guard: db.Guard | None = None
) -> tuple[dict, bool]:
    """Fold the alert into its open incident, or open one. Returns (json, created).
    `actor` is who sent it, as the timeline and `created_by` record it; `origin`
    is what a monitoring integration knows of the alert, kept on a new incident.
    A new incident is opened only while `guard` holds (else db.Superseded)."""
    telemetry.count(telemetry.ALERTS_RECEIVED)
    now = clock.now()
    request = timeline.new_request()
    key, explicit = dedup.key_for(body.service_name, body.title, body.dedup_key)
    dead_incident_id = None
    for _ in range(MAX_ATTEMPTS):
        live = dedup.fold(body.service_name, key, explicit, now)
        if live is not None:
            counted, tally = _count_alert(int(live.incident_id), request, now)
            if counted:
                telemetry.count(telemetry.ALERTS_FOLDED)
                return _folded_json(live, key, tally, now), False
            # The incident resolved between the two steps: this alert opens a new one.
            dead_incident_id = live.incident_id
        incident = _open(body, actor, origin, key, explicit, now, dead_incident_id, request, guard)
        if incident is not None:
            telemetry.count(telemetry.INCIDENTS_OPENED)
            alert_log.triggered(incident)
            return to_json(incident), True
        # Another request opened the incident first; fold into it on the next pass.
    raise Busy("Too many concurrent changes to this alert's incident; retry the request.")


def _folded_json(live: Dedup, key: str, tally: AlertTally | None, now: datetime) -> dict:
    """The answer to a folded duplicate: the incident's count as its tally stored it
    after this alert was counted, or null if it could not be read back (the alert was
    counted)."""
    return responses.FoldedAlert(
        id=live.incident_id,
        service_name=live.service_name,
        dedup_key=Dedup.public_key(key),
        alert_count=1 + int(tally.folded) if tally else None,
        last_alert_at=tally.last_alert_at if tally else now,
        deduplicated=True,
    ).body()


def _count_alert(incident_id: int, request: str, now: datetime) -> tuple[bool, AlertTally | None]:
    """Count one more alert on the open incident's tally: (whether it was counted, the
    tally as stored after it). Not counted means the tally is closed: the incident
    resolved since its dedup item was read. The count is a transaction for its
    idempotency token: a count resent after a lost answer is not applied again,
    whatever other alerts were counted in between. The incident item is not written
    (its resolve copies the tally onto it, and the alerts reach the stats then), so a
    duplicate writes only its dedup item and this small one."""
    tx = Transaction()
    tx.update(
        AlertTally(incident_id),
        [AlertTally.folded.add(1), AlertTally.last_alert_at.set(now), AlertTally.request.set(request)],
        condition=AlertTally.closed_at.does_not_exist(),
        tag="tally",
    )

    def landed() -> bool:
        tally = _tally(incident_id)
        return tally is not None and tally.request == request

    try:
        tx.commit(landed=landed)
    except TransactionCancelled:
        return False, None
    # The count as stored, this alert in it (and any counted since).
    return True, db.read_retrying(lambda: _tally(incident_id))


def _tally(incident_id: int) -> AlertTally | None:
    try:
        return AlertTally.get(incident_id, consistent_read=True)
    except AlertTally.DoesNotExist:
        return None


def with_tally(incident: Incident, tally: AlertTally | None) -> Incident:
    """The incident with its alerts as counted: an open incident's are on its tally
    (when any alert folded into it), a resolved one's on the item itself, which its
    resolve wrote. Sets (never adds), so applying it twice changes nothing."""
    if tally is not None and incident.status != status.RESOLVED:
        incident.alert_count = 1 + int(tally.folded)
        incident.last_alert_at = tally.last_alert_at or incident.last_alert_at
    return incident


def _next_number() -> int:
    counter = Stats("counter", "incident")
    counter.update(actions=[Stats.next_id.add(1)])
    return int(counter.next_id)


def _open(
    body: TriggerBody,
    actor: str | None,
    origin: Origin | None,
    key: str,
    explicit: bool,
    now: datetime,
    dead_incident_id: int | None,
    request: str,
    guard: db.Guard | None = None,
):
    assignee = oncall.on_call_user(body.service_name, now)
    window = windows.active(body.service_name, now)
    number = _next_number()
    opened_by = f" by {actor}" if actor else ""
    assigned = f"assigned to {assignee}" if assignee else status.UNASSIGNED
    if window is not None:
        assigned += "; " + suppression.opening_note(window)
    incident = store.new(
        number,
        first_event=timeline.event(
            "triggered", actor, f"Triggered{opened_by}; {assigned}.", now, assigned_to=assignee, request=request
        ),
        escalates_at=escalation_due(now) if window is None else suppression.look_again(window, now),
        suppressed_by=window.id if window is not None else None,
        suppressed_until=window.end if window is not None else None,
        service_name=body.service_name,
        title=body.title,
        description=body.description,
        severity=body.severity,
        dedup_key=key,
        assigned_to=assignee,
        created_at=now,
        created_by=actor,
        source=origin.source if origin else None,
        details=origin.details if origin else None,
    )
    fit_for_life(incident)
    claim, free = dedup.claim(number, body.service_name, key, explicit, now, dead_incident_id)
    tx = Transaction().guard(guard)
    tx.put(incident, condition=store.is_new())
    tx.put(claim, condition=free, tag="dedup")
    metrics.count(tx, body.service_name, total_incidents=1, alerts=1)
    buckets.count(tx, incident, total_incidents=1, alerts=1)
    try:
        # The number is this request's alone: an incident under it is this write.
        tx.commit(landed=lambda: _exists(number))
    except TransactionCancelled as cancelled:
        if "dedup" in cancelled.failed:
            return None
        raise
    return incident


def _later_life_bytes() -> int:
    """The most the fields an incident gains after it opens can take (acknowledged,
    resolved, escalated, counted...), each at its bound, plus its transitions."""
    widest = "\U0010ffff" * MAX_NAME_LENGTH
    # An actor of MAX_ACTOR_BYTES bytes, in 4-byte characters.
    actor = "\U0010ffff" * (timeline.MAX_ACTOR_BYTES // 4)
    moment = datetime(2100, 1, 1, tzinfo=timezone.utc)
    later = Incident(
        MAX_ID,
        assigned_to=widest,
        acknowledged_at=moment,
        acknowledged_by=actor,
        resolved_at=moment,
        resolved_by=actor,
        escalated_at=moment,
        escalation_level=100,
        escalation_round=10,
        # The final tally, copied on at resolve (open, the item holds 1).
        alert_count=MAX_ID,
        last_alert_at=moment,
        event_count=timeline.MOST_EVENTS,
        status_partition=shards.partition(status.ACKNOWLEDGED, MAX_ID),
        due_partition=shards.partition(store.DUE_QUEUE, MAX_ID),
        due_at=moment,
        notified_events=timeline.MOST_EVENTS,
        handed_status=status.ACKNOWLEDGED,
        handed_assignee=widest,
        outbox_partition=shards.partition(store.OUTBOX_QUEUE, MAX_ID),
        outbox_at=moment,
        suppression_ended_at=moment,
    )
    fields = later.serialize(null_check=False)
    fields.pop("id")
    return itemsize.item_size(fields) + timeline.MOST_EVENTS * timeline.MAX_EVENT_BYTES


# What a new incident may take of DynamoDB's 400 KB, so that it can always be
# acknowledged, escalated, reassigned and resolved until its history is full.
OPENING_BUDGET = itemsize.MAX_ITEM_BYTES - _later_life_bytes()


def fit_for_life(incident: Incident) -> None:
    """Cut what the alert brought, details first, then the description, until the
    new incident fits OPENING_BUDGET (measured as DynamoDB counts it). A cut says so
    where it was made; the alert is never refused for its size."""
    excess = itemsize.item_size(incident.serialize()) - OPENING_BUDGET
    if excess <= 0:
        return
    if incident.details:
        before = details.stored_size(incident.details)
        incident.details = {
            "detailsOmitted": f"The details were {before} bytes as stored, more than this incident keeps."
        }
        excess -= before - details.stored_size(incident.details)
    if excess > 0:
        kept = len(incident.description.encode()) - excess
        marker = (
            f"… (cut: the description was {len(incident.description.encode())} bytes, more than this incident keeps)"
        )
        incident.description = itemsize.truncate_utf8(incident.description, kept, marker)


def due(now: datetime) -> Iterator[Incident]:
    """Every incident whose next escalation step is due by `now`, read consistently.
    The index is read first and may be behind: an incident another sweep stepped, or
    an acknowledgement took out of the queue, in between, is left out."""
    return (
        incident
        for incident in shards.read_all(Incident, store.due_keys(now))
        if incident.due_at is not None and incident.due_at <= now
    )


def incident_for_key(service_name: str, dedup_key: str) -> int | None:
    """The open incident a caller's dedup key is bound to, if any: what an
    integration's acknowledge or resolve for that key acts on."""
    return dedup.bound_incident(service_name, dedup.key_for(service_name, "", dedup_key)[0])


# --- transitions ---------------------------------------------------------------


class _ReadBack:
    """Reads an incident again after a write whose answer was lost or refused, and
    says whether the write is in it (`mine`, usually: an event of this request)."""

    def __init__(self, incident_id: int, mine) -> None:
        self.incident_id = incident_id
        self.mine = mine
        self.incident: Incident | None = None

    def __call__(self) -> bool:
        self.incident = get_item(self.incident_id)
        return self.mine(self.incident)


def _written_by(incident_id: int, event: IncidentEvent) -> _ReadBack:
    return _ReadBack(incident_id, lambda current: timeline.written_by(current, event))


def _exists(incident_id: int) -> bool:
    try:
        get_item(incident_id)
    except NotFound:
        return False
    return True


def acknowledge(incident_id: int, actor: str | None) -> dict:
    now = clock.now()
    request = timeline.new_request()
    incident = Incident(incident_id)
    event = timeline.event("acknowledged", actor, "Acknowledged.", now, request=request)
    read_back = _written_by(incident_id, event)
    # Two requests: the UpdateItem (ALL_NEW) and, at the same time, a read of the
    # alert tally, whose count the answer shows (the update cannot return it).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tally") as pool:
        counted = pool.submit(db.read_retrying, lambda: _tally(incident_id))
        actions, condition = store.acknowledged(incident_id, actor, event)
        acknowledged = db.settle(lambda: incident.update(actions=actions, condition=condition), read_back)
        if not acknowledged:
            raise InvalidTransition(status.refusal("acknowledge", incident_id, read_back.incident.status))
        # Unreadable (None): the answer shows the item's count (a 503 here would have
        # the caller acknowledge again, and be refused).
        tally = counted.result()
    incident = with_tally(read_back.incident or incident, tally)
    alert_log.acknowledged(incident)
    return to_json(incident)


def resolve(
    incident_id: int,
    actor: str | None,
    *,
    by_source: bool = False,
    guard: db.Guard | None = None,
    message: str | None = None,
) -> dict:
    """Resolve an incident. Responders may resolve only what they acknowledged; a
    monitoring source closing its own alert may resolve from any open status, and
    may ask that it happen only while `guard` holds (else db.Superseded). `message`
    is what the timeline says, when the caller knows better than "Resolved.".

    The incident and its alert tally are read first (one BatchGetItem) because
    MTTA/MTTR and the alerts are added to the stats in the same transaction, and
    those need the incident's own timestamps and count.
    """
    allowed = status.SOURCE_RESOLVE_FROM if by_source else status.RESOLVE_FROM
    request = timeline.new_request()
    incident, tally = _read(incident_id)
    event = None
    for _ in range(MAX_ATTEMPTS):
        if event is not None and timeline.written_by(incident, event):
            break  # an attempt whose answer was lost did resolve it
        if incident.status not in allowed:
            raise InvalidTransition(status.refusal("resolve", incident_id, incident.status))
        now = clock.now()
        message = message or ("Resolved by its monitoring source." if by_source else "Resolved.")
        event = timeline.event("resolved", actor, message, now, request=request)
        changed = _commit_resolve(incident, tally, actor, event, now, guard)
        if changed is None:
            with_tally(incident, tally)
            incident.status = status.RESOLVED
            incident.resolved_at = now
            incident.resolved_by = actor
            incident.events = (incident.events or []) + [event]
            incident.event_count = timeline.transitions(incident) + 1
            incident.due_partition = incident.due_at = None
            break
        # An ack, a sweep or a folded alert changed it after the read: try again on
        # the incident as it is now, so the sums use what was actually committed.
        incident, tally = changed
    else:
        raise Busy("The incident is changing too fast to resolve; try again.")
    alert_log.resolved(incident)
    return to_json(incident)


def _commit_resolve(
    incident: Incident,
    tally: AlertTally | None,
    actor: str | None,
    event: IncidentEvent,
    now: datetime,
    guard: db.Guard | None = None,
) -> tuple[Incident, AlertTally | None] | None:
    """One transaction: the incident (conditioned on the status read), its alert
    tally closed (conditioned on the count read), the stats sums, and the dedup item
    released. None when it committed, else the incident and tally as they are now.

    The alerts folded into the incident reach the stats here, and the final count
    the incident item: the tally's condition makes sure none folded in between the
    read and this write is left out, and, closed, the tally takes no fold after it
    (that alert opens a new incident)."""
    folded = int(tally.folded) if tally is not None else 0
    increments = {
        "resolved_incidents": 1,
        "resolve_seconds_sum": round((now - incident.created_at).total_seconds(), 3),
    }
    if folded:
        increments["alerts"] = folded
    final = (1 + folded, tally.last_alert_at) if tally is not None else None
    counted_as_read = (
        AlertTally.folded == tally.folded if tally is not None else AlertTally.incident_id.does_not_exist()
    )
    if incident.acknowledged_at is not None:
        increments["resolved_acknowledged"] = 1
        increments["ack_seconds_sum"] = round((incident.acknowledged_at - incident.created_at).total_seconds(), 3)
    release_dedup = True
    while True:
        tx = Transaction().guard(guard)
        actions, condition = store.resolved(incident, actor, event, final)
        tx.update(Incident(incident.id), actions, condition=condition, tag="incident")
        tx.update(
            AlertTally(incident.id),
            [AlertTally.closed_at.set(now), AlertTally.expires_at.set(int((now + TALLY_KEPT).timestamp()))],
            condition=counted_as_read,
            tag="tally",
        )
        metrics.count(tx, incident.service_name, **increments)
        buckets.count(tx, incident, **increments)
        if release_dedup:
            item, still_ours = dedup.release(incident.service_name, incident.dedup_key, incident.id)
            tx.delete(item, condition=still_ours, tag="dedup")
        try:
            tx.commit(landed=_written_by(incident.id, event))
            return None
        except TransactionCancelled as cancelled:
            if cancelled.failed & {"incident", "tally"}:
                return _read(incident.id)
            # A newer incident took this stale dedup key; leave it to that incident.
            release_dedup = False


# --- working together ------------------------------------------------------------


def add_note(incident_id: int, text: str, actor: str | None) -> dict:
    """A note in the incident's timeline, written only if the incident exists (one
    transaction). Notes are history, not transitions: nobody is notified."""
    note = timeline.entry(incident_id, "note", actor, text, clock.now())
    tx = Transaction()
    tx.check(Incident, incident_id, condition=store.stored(), tag="incident")
    tx.put(note)
    try:
        tx.commit()
    except TransactionCancelled:
        raise NotFound(f"There is no incident {incident_id}.") from None
    return responses.Note.of(note).body()


def reassign(incident_id: int, user: str, actor: str | None) -> dict:
    """Hand an open incident to `user`: a write conditioned on the status and on the
    assignee differing, which appends the event and owes its announcement.
    Concurrent reassignments each commit in turn; none is lost."""
    request = timeline.new_request()
    for _ in range(MAX_ATTEMPTS):
        incident = _reassign_once(incident_id, user, actor, request)
        if incident is not None:
            alert_log.reassigned(incident, actor)
            return to_json(incident)
        # Neither refusal holds any more: another reassignment moved it meanwhile.
    raise Busy("The incident is being reassigned too often to reassign it now; try again.")


def _reassign_once(incident_id: int, user: str, actor: str | None, request: str) -> Incident | None:
    """A transaction of the one item for its idempotency token: a reassignment resent
    after a lost answer is not applied again over a later one."""
    now = clock.now()
    event = timeline.event("reassigned", actor, f"Reassigned to {user}.", now, assigned_to=user, request=request)
    read_back = _written_by(incident_id, event)
    actions, condition = store.reassigned(incident_id, user, event, timeline.MAX_EVENTS)
    tx = Transaction()
    tx.update(Incident(incident_id), actions, condition=condition, tag="incident", return_found=True)
    try:
        tx.commit(landed=read_back)
    except TransactionCancelled as cancelled:
        found = cancelled.found.get("incident")
        current = Incident.from_raw_data(found) if found else get_item(incident_id)
        _refuse_reassign(current, user)
        return None
    current = read_back.incident or db.read_retrying(lambda: get_item(incident_id))
    if current is None:
        raise Busy(f"Incident {incident_id} was reassigned to {user}, but could not be read back; read it again.")
    # The answer is this reassignment's: a later one may already have moved it on.
    current.assigned_to = user
    return current


def _refuse_reassign(current: Incident, user: str) -> None:
    """Raise the reason a reassignment's condition failed, if it still holds."""
    incident_id = current.id
    if current.status not in status.REASSIGN_FROM:
        raise InvalidTransition(status.refusal("reassign", incident_id, current.status))
    if current.assigned_to == user:
        raise InvalidInput(f"Incident {incident_id} is already assigned to {user}.", field="user")
    if timeline.transitions(current) >= timeline.MAX_EVENTS:
        raise Conflict(
            f"Incident {incident_id} has {timeline.MAX_EVENTS} transitions, as many as one incident keeps; "
            "it can still be acknowledged and resolved, but not reassigned again."
        )


# --- reads -----------------------------------------------------------------------


def _read(incident_id: int) -> tuple[Incident, AlertTally | None]:
    """The incident and its alert tally (None before any alert folded into it), read
    consistently in one BatchGetItem."""
    found = db.batch_get({Incident: [incident_id], AlertTally: [incident_id]})
    if not found[Incident]:
        raise NotFound(f"There is no incident {incident_id}.")
    [incident] = found[Incident]
    return incident, next(iter(found[AlertTally]), None)


def get_item(incident_id: int) -> Incident:
    """The incident, with its alerts as counted (with_tally): one BatchGetItem."""
    return with_tally(*_read(incident_id))


def _read_page(keys: list[Incident]) -> list[Incident]:
    """The listed incidents with their alert tallies, both read in the same
    BatchGetItem (eventually consistent, as a list is): one per 50 incidents."""
    ids = [int(key.id) for key in keys]
    per_batch = db.BATCH_GET_KEYS // 2
    page = []
    for start in range(0, len(ids), per_batch):
        chunk = ids[start : start + per_batch]
        found = db.batch_get({Incident: chunk, AlertTally: chunk}, consistent_read=False)
        tallies = {int(tally.incident_id): tally for tally in found[AlertTally]}
        page += [with_tally(incident, tallies.get(int(incident.id))) for incident in found[Incident]]
    return page


def detail(incident_id: int, next_step: Callable[[Incident], dict | None] = lambda incident: None) -> dict:
    """The incident with its history, and `next_step` of it (what the escalation
    policy, a layer above, says comes next)."""
    incident = get_item(incident_id)
    return responses.IncidentDetail.of(
        incident, timeline=timeline.history(incident), next_escalation=next_step(incident)
    ).body()


def list_page(status_filter: str | None, service_name: str | None, limit: int, cursor: str | None) -> dict:
    """Newest first: one Query per list partition (one for a service, one per shard
    otherwise, in parallel), then one BatchGetItem for the page's incidents and their
    alert tallies (two for a page of more than 50). With both filters
    a page may hold fewer than `limit` incidents (the status is filtered among the
    service's incidents)."""
    if status_filter:
        status_filter = status_filter.upper()
        if status_filter not in status.ALL:
            raise InvalidInput(f"status must be one of {', '.join(status.ALL)}.", field="status")
    if service_name:
        index, names, listed = Incident.service_index, [service_name], f"service:{service_name}"
    elif status_filter:
        index, names, listed = Incident.status_index, shards.partitions(status_filter), f"status:{status_filter}"
    else:
        index, names, listed = Incident.feed_index, shards.partitions(store.LIST), "all"
    start = pagination.decode(cursor, {"list": "S", "id": "N"}, {"list": listed})
    keys, more = shards.newest(index, names, limit, int(start["id"]["N"]) if start else None)
    found = sorted(_read_page(keys), key=lambda item: item.id, reverse=True)
    if service_name and status_filter:
        found = [incident for incident in found if incident.status == status_filter]
    resume_at = {"list": {"S": listed}, "id": {"N": str(keys[-1].id)}} if more and keys else None
    page = [responses.Incident.of(incident) for incident in found]
    return responses.IncidentPage(incidents=page, next_cursor=pagination.encode(resume_at)).body()
