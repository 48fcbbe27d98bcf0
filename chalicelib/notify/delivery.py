"""Delivering notifications: each delivery is leased by a conditional write, sent,
and its outcome recorded with a timeline entry in one transaction; failures are
retried with backoff. Runs on a timer (locally), on the incidents table's stream
and every minute (in AWS); any number of runs may overlap."""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from chalicelib import clock, db, shards, telemetry
from chalicelib.api import responses
from chalicelib.config import settings
from chalicelib.db import Transaction, TransactionCancelled
from chalicelib.incident import timeline
from chalicelib.models import Channel, ContactMethod, Delivery, Incident, User
from chalicelib.notify import channels, delivery_store, outbox, pages, senders
from chalicelib.people import contact_methods
from chalicelib.report import buckets
from chalicelib.transport.outcome import Outcome

log = logging.getLogger("oncall.delivery")

PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"
MAX_ATTEMPTS = 8
# Several times the longest a send may take (each attempt has an absolute deadline
# of ONCALL_NOTIFY_TIMEOUT_SECONDS, at most 10 s): a lease that runs out means the
# sender died, and the delivery is due again.
LEASE = timedelta(seconds=60)
# A run stops claiming after this long, well inside the Lambda's 30 s timeout, so
# it does not die holding leases; the rest waits for the next run. The last claim
# ends within one send deadline (at most 10 s) after it.
RUN_BUDGET_SECONDS = 15
MAX_BACKOFF = timedelta(minutes=15)
KEEP_FINISHED = timedelta(days=90)
# Due deliveries one run reads, so also the most channel workers it starts.
BATCH = 100
ACTOR = "notifications"
KIND_NAMES = {"slack": "Slack", "webhook": "Webhook", "sns": "SNS topic"}


def run() -> dict:
    """One pass: hand owed events to channels, then attempt every due delivery.

    Each channel with due deliveries gets a worker of its own that sends them one
    at a time, in order, so a receiver can only ever delay its own channel. A
    receiver that cannot be reached (no answer within the send deadline, no
    connection, a refused address) is not tried again in this run. So a run lasts
    as long as its slowest channel: one deadline for a channel that hangs, however
    many do, and no worker claims after RUN_BUDGET_SECONDS, so no run outlasts that
    plus one deadline."""
    started = time.monotonic()
    handed = outbox.dispatch_waiting(clock.now())
    now = clock.now()
    due_keys = shards.keys_in(Delivery.due_index, delivery_store.QUEUE, Delivery.due_at <= now, limit=BATCH)
    # The index may be behind the items: one another run claimed since is no longer due.
    listed = shards.read_all(Delivery, sorted(due_keys, key=lambda d: d.due_at)[:BATCH])
    due = [delivery for delivery in listed if delivery.due_at is not None and delivery.due_at <= now]
    result = _attempt_all(due, handed.events, started)
    telemetry.count(telemetry.NOTIFIER_RUNS)
    return result


def run_for(records: list) -> dict:
    """The stream's pass: hand over the transitions of the incidents these stream
    records show in the outbox, and make the first attempt of the deliveries that
    made. It reads no queue (a pass per stream record, so the queues' reads would be
    most of its cost): what it leaves, a retry or a record whose pass failed, the
    minute's run finds."""
    started = time.monotonic()
    handed = outbox.dispatch_all(outbox.in_stream(records), clock.now())
    now = clock.now()
    # A page with a delay is the minute run's when it comes due.
    return _attempt_all([d for d in handed.deliveries if d.due_at <= now], handed.events, started)


def _attempt_all(due: list[Delivery], handed: int, started: float) -> dict:
    # One incident's events reach one channel in order (a first attempt that fails
    # is retried later, so a receiver may still see them out of order: each
    # message carries its event's time and position).
    # A person's contact method is a queue of its own, as a channel is.
    queues: dict[tuple[str, str, str], list[Delivery]] = {}
    for delivery in sorted(due, key=lambda d: (d.incident_id, d.delivery_key)):
        if delivery.contact_method_id is not None:
            key = ("page", delivery.user, delivery.contact_method_id)
        else:
            key = ("channel", delivery.service_name, delivery.channel_id)
        queues.setdefault(key, []).append(delivery)

    def send_queue(key: tuple[str, str, str]) -> list[str]:
        kind, owner, recipient_id = key
        recipient = (
            channels.find(owner, recipient_id) if kind == "channel" else contact_methods.find(owner, recipient_id)
        )
        return _send_in_order(recipient, queues[key], started)

    outcomes = []
    if queues:
        with ThreadPoolExecutor(max_workers=len(queues), thread_name_prefix="notify-channel") as pool:
            outcomes = [state for states in pool.map(send_queue, list(queues)) for state in states]
    return responses.DeliveryRun(
        dispatched=handed,
        attempted=len(outcomes),
        delivered=sum(1 for state in outcomes if state == DELIVERED),
        failed=sum(1 for state in outcomes if state == FAILED),
        retrying=sum(1 for state in outcomes if state == PENDING),
    ).body()


def _send_in_order(recipient: Channel | ContactMethod | None, queue: list[Delivery], started: float) -> list[str]:
    """One channel's or contact method's due deliveries, one at a time."""
    states = []
    claimed_elsewhere: set[int] = set()
    for position, delivery in enumerate(queue):
        if time.monotonic() - started > RUN_BUDGET_SECONDS:
            break
        if delivery.incident_id in claimed_elsewhere:
            continue
        # Each delivery is claimed right before its send, so its lease covers one
        # send, never the wait behind other sends of this run.
        if not _claim(delivery, clock.now()):
            # Another run holds it: this incident's later events wait for it.
            claimed_elsewhere.add(delivery.incident_id)
            continue
        state, outcome = _attempt(delivery, recipient)
        states.append(state)
        if outcome is not None and outcome.unreachable:
            _hold(queue[position + 1 :], clock.now() + backoff(delivery.attempts))
            break
    return states


def _hold(waiting: list[Delivery], until: datetime) -> None:
    """The channel's receiver could not be reached: its other due deliveries wait
    for the retry of the one that failed, unclaimed (no attempt is spent on them).
    Moving their due time keeps a dead channel's backlog from filling every run's
    batch ahead of other channels' deliveries."""
    for delivery in waiting:
        _hold_one(delivery, until)


def _hold_one(delivery: Delivery, until: datetime) -> None:
    item = Delivery(delivery.incident_id, delivery.delivery_key)
    # When the condition fails, another run claimed or held it meanwhile (or this
    # write's own lost attempt did): what is stored stands either way.
    db.settle(
        lambda: item.update(
            actions=[Delivery.due_at.set(until)],
            condition=(Delivery.due_at == delivery.due_at)
            & (Delivery.attempts == delivery.attempts)
            & (Delivery.state == PENDING),
        ),
        lambda: True,
    )


def backoff(attempts: int) -> timedelta:
    """After the n-th failed attempt: base, 3 x base, 9 x base... at most 15 minutes."""
    return min(timedelta(seconds=settings().notify_retry_seconds * 3 ** (attempts - 1)), MAX_BACKOFF)


def _claim(delivery: Delivery, now: datetime) -> bool:
    """Take the delivery for one attempt. Conditioned on the due time and attempt
    count this run read, so of overlapping runs exactly one sends each attempt."""
    item = Delivery(delivery.incident_id, delivery.delivery_key)
    claim = timeline.new_request()

    def landed() -> bool:
        # A claim whose answer was lost: the item names it.
        try:
            current = Delivery.get(delivery.incident_id, delivery.delivery_key, consistent_read=True)
        except Delivery.DoesNotExist:
            return False
        return current.claimed_by == claim and current.attempts == delivery.attempts + 1

    claimed = db.settle(
        lambda: item.update(
            actions=[Delivery.attempts.add(1), Delivery.due_at.set(now + LEASE), Delivery.claimed_by.set(claim)],
            condition=(Delivery.due_at == delivery.due_at)
            & (Delivery.attempts == delivery.attempts)
            & (Delivery.state == PENDING),
        ),
        landed,
    )
    if claimed:
        delivery.attempts += 1
    return claimed


def _attempt(delivery: Delivery, recipient: Channel | ContactMethod | None) -> tuple[str, Outcome | None]:
    if delivery.contact_method_id is not None:
        return _page(delivery, recipient)
    channel = recipient
    if channel is None:
        text = f"Did not send the {delivery.event_kind} notification: its channel was deleted."
        return _record(delivery, CANCELLED, text, retry_in=None), None
    try:
        outcome = senders.send(channel, delivery.message, _delivery_id(delivery))
    except Exception:  # a bug in a sender must not strand the lease
        log.exception("sending delivery %s failed unexpectedly", _delivery_id(delivery))
        outcome = Outcome(False, "oncall failed to send it (see the log)")
    where = f"{KIND_NAMES.get(channel.kind, channel.kind)} {channel.name!r}"
    return _outcome(delivery, outcome, f"Notified {where}", f"notify {where}"), outcome


def _page(delivery: Delivery, method: ContactMethod | None) -> tuple[str, Outcome | None]:
    """A page is sent only while the incident still waits for someone: read now, with
    the person (one BatchGetItem), whose time zone says whether a page sent is a night's."""
    who = delivery.user
    if method is None:
        text = f"Did not page {who}: the contact method was deleted."
        return _record(delivery, CANCELLED, text, retry_in=None), None
    found = db.batch_get({Incident: [delivery.incident_id], User: [who]})
    incident = next(iter(found[Incident]), None)
    time_zone = next((user.time_zone for user in found[User]), None)
    why = pages.cancelled_because(incident, delivery)
    if why is not None:
        return _record(delivery, CANCELLED, f"Did not page {who}: {why}.", retry_in=None), None
    try:
        outcome = pages.send(method, delivery.message, _delivery_id(delivery))
    except Exception:  # a bug in a sender must not strand the lease
        log.exception("sending page %s failed unexpectedly", _delivery_id(delivery))
        outcome = Outcome(False, "oncall failed to send it (see the log)")
    by = pages.describe(method)
    if outcome.permanent:
        contact_methods.mark_failed(method, outcome.detail)
    return _outcome(delivery, outcome, f"Paged {who} by {by}", f"page {who} by {by}", time_zone), outcome


def _delivery_id(delivery: Delivery) -> str:
    return f"{delivery.incident_id}-{delivery.delivery_key.replace('#', '-')}"


def _outcome(delivery: Delivery, outcome: Outcome, done: str, tried_to: str, time_zone: str | None = None) -> str:
    """Record the attempt: `done` and `tried_to` say what it was ("Paged alice by
    SMS ...0100", "page alice by SMS ...0100"); a page's `time_zone` is its person's."""
    event = delivery.event_kind
    page = delivery.contact_method_id is not None
    if outcome.delivered:
        telemetry.count(telemetry.PAGES_SENT if page else telemetry.CHANNEL_MESSAGES_SENT)
        return _record(delivery, DELIVERED, f"{done} of {event}: {outcome.detail}.", retry_in=None, time_zone=time_zone)
    tried = f"attempt {delivery.attempts} of {MAX_ATTEMPTS}"
    if outcome.permanent or delivery.attempts >= MAX_ATTEMPTS:
        telemetry.count(telemetry.PAGES_FAILED if page else telemetry.CHANNEL_MESSAGES_FAILED)
        why = "will not retry" if outcome.permanent else "giving up"
        text = f"Could not {tried_to} of {event} ({tried}): {outcome.detail}; {why}."
        return _record(delivery, FAILED, text, retry_in=None, error=outcome.detail)
    wait = backoff(delivery.attempts)
    text = f"Could not {tried_to} of {event} ({tried}): {outcome.detail}; next attempt in {_span(wait)}."
    return _record(delivery, PENDING, text, retry_in=wait, error=outcome.detail)


def _record(
    delivery: Delivery,
    state: str,
    text: str,
    *,
    retry_in: timedelta | None,
    error: str | None = None,
    time_zone: str | None = None,
) -> str:
    """The attempt's outcome and its timeline entry, in one transaction, conditioned
    on the lease still being this run's. A page delivered is counted for reports in it,
    so once, however many attempts or runs it took."""
    now = clock.now()
    if retry_in is not None:
        actions = [Delivery.due_at.set(now + retry_in)]
    else:
        actions = [
            Delivery.state.set(state),
            Delivery.finished_at.set(now),
            Delivery.due_partition.remove(),
            Delivery.due_at.remove(),
            Delivery.expires_at.set(int((now + KEEP_FINISHED).timestamp())),
        ]
    if error is not None:
        actions.append(Delivery.last_error.set(error))
    # What was sent must be recorded, or the lease runs out and it is sent again:
    # this write tries harder than most before it gives up.
    tx = Transaction(attempts=3 * Transaction.ATTEMPTS)
    tx.update(
        Delivery(delivery.incident_id, delivery.delivery_key),
        actions,
        condition=(Delivery.attempts == delivery.attempts) & (Delivery.state == PENDING),
        tag="delivery",
    )
    tx.put(timeline.entry(delivery.incident_id, "notification", ACTOR, text, now))
    if state == DELIVERED and delivery.contact_method_id is not None:
        buckets.page_sent(tx, delivery.service_name, delivery.user, delivery.contact_method_id, time_zone, now)
    try:
        tx.commit()
    except TransactionCancelled:
        # The lease ran out and another run took the delivery: its record stands.
        log.warning(
            "delivery %s#%s changed hands before its outcome was recorded", delivery.incident_id, delivery.delivery_key
        )
    return state


def _span(wait: timedelta) -> str:
    seconds = int(wait.total_seconds())
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"
