"""On-call schedules: shifts, overrides and rotation layers, and the final schedule they make."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from chalicelib import clock, db
from chalicelib.api import pagination, responses
from chalicelib.api.payloads import ShiftBody
from chalicelib.errors import Conflict, InvalidInput
from chalicelib.models import Rotation, ScheduleEntry, Shift
from chalicelib.schedule import catalogue, rotations

FEED = "shift"
DEFAULT_SPAN = timedelta(days=14)
MAX_SPAN = timedelta(days=92)
# How far ahead `until` looks for the end of the current holder's time.
UNTIL_HORIZON = timedelta(days=31)


def _shift_key(end: datetime, shift_id: str) -> str:
    return f"{clock.iso(end)}#{shift_id}"


def _not_ended_after(at: datetime) -> str:
    # Shift keys are "<end>#<hex id>"; "~" sorts after every hex digit, so a key
    # greater than "<at>#~" has end > at: the shift has not ended at `at`.
    return f"{clock.iso(at)}#~"


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
    catalogue.add(body.service_name)
    db.save_new(shift, Shift.shift_key.does_not_exist(), Conflict(f"A shift with id {shift_id} already exists."))
    return responses.Shift.of(shift).body()


def delete_shift(shift_id: str) -> None:
    db.delete_by_public_id(Shift, shift_id, "shift")


def list_shifts(service_name: str | None, include_ended: bool, limit: int, cursor: str | None) -> dict:
    """Shifts ordered by end time; by default only those that have not ended."""
    since = None if include_ended else Shift.shift_key > _not_ended_after(clock.now())
    shifts, next_cursor = pagination.service_or_feed(Shift, service_name, FEED, limit, cursor, since)
    return responses.ShiftPage(schedules=[responses.Shift.of(s) for s in shifts], next_cursor=next_cursor).body()


@dataclass(frozen=True)
class Holder:
    """Who is on call and which part of the schedule put them there."""

    user: str | None
    source: dict | None = None


NOBODY = Holder(None)


@dataclass
class Schedule:
    """A service's schedule as one Query returned it: overrides win over every
    rotation layer, higher layers over lower, and rotations over plain shifts."""

    overrides: list[Shift]
    rotations: list[tuple[Rotation, rotations.Plan]]
    shifts: list[Shift]

    @classmethod
    def read(cls, service_name: str, since: datetime, until: datetime | None = None) -> "Schedule":
        """Shifts overlapping [since, until] (or covering `since`) and all rotations."""
        until = until or since
        entries = ScheduleEntry.query(
            service_name,
            ScheduleEntry.shift_key > _not_ended_after(since),
            filter_condition=(Shift.start_time <= until) | (ScheduleEntry.kind == Rotation),
        )
        overrides, layered, shifts = [], [], []
        for entry in entries:
            if isinstance(entry, Rotation):
                layered.append((entry, rotations.Plan.of(entry)))
            elif entry.is_override:
                overrides.append(entry)
            else:
                shifts.append(entry)
        # Ties go to the earliest created, as they always have.
        overrides.sort(key=lambda s: (s.created_at, s.id))
        shifts.sort(key=lambda s: (s.created_at, s.id))
        layered.sort(key=lambda pair: (-pair[0].layer, pair[0].created_at, pair[0].id))
        return cls(overrides, layered, shifts)

    def holder(self, at: datetime) -> Holder:
        for shift in self.overrides:
            if shift.start_time <= at < shift.end_time:
                return Holder(shift.user, {"kind": "override", "id": shift.id})
        for rotation, plan in self.rotations:
            user = plan.holder(at)
            if user is not None:
                source = {"kind": "rotation", "id": rotation.id, "name": rotation.name, "layer": rotation.layer}
                return Holder(user, source)
        for shift in self.shifts:
            if shift.start_time <= at < shift.end_time:
                return Holder(shift.user, {"kind": "shift", "id": shift.id})
        return NOBODY

    def changes(self, start: datetime, end: datetime) -> list[datetime]:
        moments = {start, end}
        for shift in self.overrides + self.shifts:
            moments.update(m for m in (shift.start_time, shift.end_time) if start < m < end)
        for _, plan in self.rotations:
            moments.update(plan.changes(start, end))
        return sorted(moments)

    def intervals(self, start: datetime, end: datetime) -> list[dict]:
        """The final schedule over [start, end): consecutive intervals, each with its
        holder and source; a gap (nobody on call) has user null and gap true."""
        result = []
        moments = self.changes(start, end)
        for begin, finish in pairwise(moments):
            holder = self.holder(begin)
            if result and result[-1]["user"] == holder.user and result[-1]["source"] == holder.source:
                result[-1]["end"] = finish
                continue
            result.append(
                {
                    "start": begin,
                    "end": finish,
                    "user": holder.user,
                    "gap": holder.user is None,
                    "source": holder.source,
                }
            )
        return [
            {**interval, "start": clock.iso(interval["start"]), "end": clock.iso(interval["end"])}
            for interval in result
        ]


def on_call_user(service_name: str, at: datetime) -> str | None:
    """Who is on call for the service at `at`, or None."""
    return Schedule.read(service_name, at).holder(at).user


def current(service_name: str, at: datetime | None = None) -> dict:
    at = at or clock.now()
    horizon = at + UNTIL_HORIZON
    # The first interval of the final schedule from `at` is who holds `at`, and until when.
    first = Schedule.read(service_name, at, horizon).intervals(at, horizon)[0]
    source = first["source"] or {}
    return responses.OnCall(
        service_name=service_name,
        at=at,
        user=first["user"],
        schedule_id=source.get("id"),
        is_override=source.get("kind") == "override",
        source=first["source"],
        # When this holder's time ends (null: not within UNTIL_HORIZON).
        until=first["end"] if first["end"] != clock.iso(horizon) else None,
    ).body()


def final_schedule(service_name: str, start: datetime | None, end: datetime | None) -> dict:
    start = start or clock.now()
    end = end or start + DEFAULT_SPAN
    if end <= start:
        raise InvalidInput("to must be after from.", field="to")
    if end - start > MAX_SPAN:
        raise InvalidInput(f"from and to may be at most {MAX_SPAN.days} days apart.", field="to")
    intervals = Schedule.read(service_name, start, end).intervals(start, end)
    answer = {"service_name": service_name, "from": start, "to": end, "intervals": intervals}
    return responses.FinalSchedule.model_validate(answer).body()
