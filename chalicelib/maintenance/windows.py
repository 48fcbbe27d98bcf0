"""Maintenance windows: add, list, end early, remove, and the window a service is in.

A window is keyed "<end>#<id>" under its service, as shifts are, so the windows not
yet ended are one key range: a new incident reads whether its service is in one
with a single Query of that range."""

import uuid
from datetime import datetime, timedelta

from chalicelib import clock, db
from chalicelib.api import pagination, responses
from chalicelib.api.payloads import MaintenanceBody
from chalicelib.db import Transaction, TransactionCancelled
from chalicelib.errors import Busy, Conflict, InvalidInput
from chalicelib.models import MaintenanceWindow

FEED = "maintenance"
# A window silences a service's pages: a long one is more likely a mistake than a plan.
MAX_LENGTH = timedelta(days=30)
# How far ahead a window may start, so the range a new incident reads stays small.
MAX_LEAD = timedelta(days=366)


def _window_key(end: datetime, window_id: str) -> str:
    return f"{clock.iso(end)}#{window_id}"


def _not_ended_at(at: datetime):
    # "~" sorts after every hex digit: a key above "<at>#~" has an end after `at`.
    return MaintenanceWindow.window_key > f"{clock.iso(at)}#~"


def answer(window: MaintenanceWindow, now: datetime) -> responses.MaintenanceWindow:
    state = "upcoming" if now < window.start else "active" if now < window.end else "ended"
    return responses.MaintenanceWindow.of(window, state=state)


def create(body: MaintenanceBody, actor: str | None) -> dict:
    now = clock.now()
    start, end = (clock.to_millisecond(value) for value in (body.start, body.end))
    if end <= start:
        raise InvalidInput("end must be after start.", field="end")
    if end <= now:
        raise InvalidInput("end is in the past: a window that is over would silence nothing.", field="end")
    if end - start > MAX_LENGTH:
        raise InvalidInput(f"A window lasts at most {MAX_LENGTH.days} days; split a longer one.", field="end")
    if start - now > MAX_LEAD:
        raise InvalidInput(f"A window starts at most {MAX_LEAD.days} days ahead.", field="start")
    window_id = uuid.uuid4().hex
    window = MaintenanceWindow(
        body.service_name,
        _window_key(end, window_id),
        id=window_id,
        start=start,
        end=end,
        reason=body.reason,
        created_at=now,
        created_by=actor,
        feed=FEED,
    )
    db.save_new(
        window,
        MaintenanceWindow.window_key.does_not_exist(),
        Conflict(f"A maintenance window with id {window_id} already exists."),
    )
    return answer(window, now).body()


def list_page(service_name: str | None, include_ended: bool, limit: int, cursor: str | None) -> dict:
    """Windows by end; by default only those not yet over."""
    now = clock.now()
    since = None if include_ended else _not_ended_at(now)
    windows, next_cursor = pagination.service_or_feed(MaintenanceWindow, service_name, FEED, limit, cursor, since)
    return responses.MaintenanceWindowPage(
        windows=[answer(window, now) for window in windows], next_cursor=next_cursor
    ).body()


def _stored(window_id: str) -> MaintenanceWindow:
    keys = db.keys_by_public_id(MaintenanceWindow, window_id, "maintenance window")
    window = db.find(MaintenanceWindow, keys.service_name, keys.window_key)
    if window is None:
        # The index still lists the key of a window another request just ended or removed.
        raise Busy(f"Maintenance window {window_id} is changing; try again.")
    return window


def end_early(window_id: str) -> dict:
    """End a window now. Its end is part of its key, so the item moves: one
    transaction deletes it, conditioned on the end it was read with, and puts it
    under the new end. Ending a window that an earlier call ended early answers
    as that call did; one that is over already is refused."""
    now = clock.to_millisecond(clock.now())
    window = _stored(window_id)
    if window.ended_early_at is not None:
        return answer(window, now).body()
    if window.end <= now:
        raise Conflict(f"Maintenance window {window_id} is over already (it ended {clock.iso(window.end)}).")
    # A window not started yet ends before it begins: it never silences anything.
    ended = MaintenanceWindow(
        **{
            **window.attribute_values,
            "window_key": _window_key(now, window.id),
            "end": now,
            "start": min(window.start, now),
            "ended_early_at": now,
            "planned_end": window.end,
        },
    )
    tx = Transaction()
    tx.delete(window, condition=MaintenanceWindow.end == window.end, tag="window")
    tx.put(ended, condition=MaintenanceWindow.window_key.does_not_exist())
    try:
        tx.commit(landed=lambda: db.find(MaintenanceWindow, ended.service_name, ended.window_key) is not None)
    except TransactionCancelled:
        # Ended or removed by another request since the read.
        return end_early(window_id)
    return answer(ended, now).body()


def delete(window_id: str) -> None:
    db.delete_by_public_id(MaintenanceWindow, window_id, "maintenance window")


def around(service_name: str, at: datetime, since: datetime) -> list[MaintenanceWindow]:
    """The service's windows that end after `since` and could cover `at`: one Query of a
    bounded key range (a window that covers `at` ends within MAX_LENGTH of it)."""
    upper = f"{clock.iso(at + MAX_LENGTH)}#~"
    in_range = MaintenanceWindow.window_key.between(f"{clock.iso(since)}#~", upper)
    return list(MaintenanceWindow.query(service_name, in_range, consistent_read=True))


def covering(found: list[MaintenanceWindow], at: datetime) -> MaintenanceWindow | None:
    """Of `found`, the window `at` is in (of overlapping ones, the one that ends last)."""
    return max((window for window in found if window.start <= at < window.end), key=lambda w: w.end, default=None)


def active(service_name: str, at: datetime) -> MaintenanceWindow | None:
    """The window `service_name` is in at `at`, or None."""
    return covering(around(service_name, at, at), at)
