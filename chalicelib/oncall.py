"""On-call schedules (shifts and overrides) and the question "who is on call now?"."""

import uuid
from datetime import datetime

from . import clock, db, pagination
from .errors import InvalidInput
from .models import Shift
from .payloads import ShiftBody

FEED = "shift"


def _shift_key(end: datetime, shift_id: str) -> str:
    return f"{clock.iso(end)}#{shift_id}"


def _not_ended_after(at: datetime) -> str:
    # Shift keys are "<end>#<hex id>"; "~" sorts after every hex digit, so a key
    # greater than "<at>#~" has end > at: the shift has not ended at `at`.
    return f"{clock.iso(at)}#~"


def to_json(shift: Shift) -> dict:
    return {
        "id": shift.id,
        "service_name": shift.service_name,
        "user": shift.user,
        "start_time": clock.iso(shift.start_time),
        "end_time": clock.iso(shift.end_time),
        "is_override": shift.is_override,
        "created_at": clock.iso(shift.created_at),
    }


def create_shift(body: ShiftBody) -> dict:
    # Millisecond precision, the precision of the sort key that orders shifts by end.
    start, end = (
        value.replace(microsecond=value.microsecond // 1000 * 1000) for value in (body.start_time, body.end_time)
    )
    if end <= start:
        raise InvalidInput("end_time must be after start_time.", field="end_time")
    shift_id = uuid.uuid4().hex
    shift = Shift(
        body.service_name,
        _shift_key(end, shift_id),
        id=shift_id,
        user=body.user,
        start_time=start,
        end_time=end,
        is_override=body.is_override,
        created_at=clock.now(),
        feed=FEED,
    )
    shift.save(condition=Shift.shift_key.does_not_exist())
    return to_json(shift)


def delete_shift(shift_id: str) -> None:
    db.delete_by_public_id(Shift, shift_id, "shift")


def list_shifts(service_name: str | None, include_ended: bool, limit: int, cursor: str | None) -> dict:
    """Shifts ordered by end time; by default only those that have not ended."""
    since = None if include_ended else Shift.shift_key > _not_ended_after(clock.now())
    shifts, next_cursor = pagination.service_or_feed(Shift, service_name, FEED, limit, cursor, since)
    return {"schedules": [to_json(shift) for shift in shifts], "next_cursor": next_cursor}


def on_call_shift(service_name: str, at: datetime) -> Shift | None:
    """The shift covering `at` ([start, end)): an override wins, then the earliest created."""
    covering = Shift.query(
        service_name,
        Shift.shift_key > _not_ended_after(at),
        filter_condition=Shift.start_time <= at,
    )
    best = None
    for shift in covering:
        rank = (not shift.is_override, shift.created_at, shift.id)
        if best is None or rank < best[0]:
            best = (rank, shift)
    return best[1] if best else None


def on_call_user(service_name: str, at: datetime) -> str | None:
    """Who is on call for the service at `at`, or None."""
    shift = on_call_shift(service_name, at)
    return shift.user if shift else None


def current(service_name: str) -> dict:
    shift = on_call_shift(service_name, clock.now())
    return {
        "service_name": service_name,
        "user": shift.user if shift else None,
        "schedule_id": shift.id if shift else None,
        "is_override": shift.is_override if shift else False,
        "until": clock.iso(shift.end_time) if shift else None,
    }
