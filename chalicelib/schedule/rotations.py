"""Rotations: participants taking turns in shifts of hours, days or weeks, handed
off at a wall-clock time in the rotation's zone, optionally active only inside
restriction windows. Who holds a rotation at an instant is computed, in constant
time however long ago the rotation started."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalicelib import clock, db
from chalicelib.api import pagination, responses
from chalicelib.api.payloads import WEEKDAYS, RotationBody
from chalicelib.errors import Conflict
from chalicelib.models import Rotation
from chalicelib.schedule import catalogue, wallclock

FEED = "rotation"
# Rotation keys sort after every shift key ("<end time>#<id>"), so the Query for
# the shifts not yet ended at T returns the service's rotations with them.
KEY_PREFIX = "~rotation#"


@dataclass(frozen=True)
class Window:
    weekdays: frozenset[int]
    start: time
    end: time

    def spans(self, day: date) -> tuple[datetime, datetime] | None:
        """The wall-clock span of the window that opens on `day`, if it opens then;
        an end at or before the start is on the next day."""
        if day.weekday() not in self.weekdays:
            return None
        ends_on = day if self.start < self.end else day + timedelta(days=1)
        return datetime.combine(day, self.start), datetime.combine(ends_on, self.end)


def _clock_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Plan:
    """A rotation's arithmetic, separate from its storage."""

    participants: tuple[str, ...]
    step: timedelta
    anchor: datetime  # the wall-clock time of the first handoff
    zone: ZoneInfo
    windows: tuple[Window, ...] = ()

    @classmethod
    def of(cls, rotation: Rotation) -> "Plan":
        first_day = date.fromisoformat(rotation.start_date)
        if rotation.shift_unit == "weeks" and rotation.handoff_weekday:
            first_day += timedelta(days=(WEEKDAYS.index(rotation.handoff_weekday) - first_day.weekday()) % 7)
        windows = tuple(
            Window(frozenset(WEEKDAYS.index(d) for d in w["weekdays"]), _clock_time(w["start"]), _clock_time(w["end"]))
            for w in rotation.restrictions or []
        )
        return cls(
            participants=tuple(rotation.participants),
            # The units are timedelta's own keywords: hours, days, weeks.
            step=timedelta(**{rotation.shift_unit: int(rotation.shift_length)}),
            anchor=datetime.combine(first_day, _clock_time(rotation.handoff_time)),
            zone=wallclock.zone(rotation.time_zone),
            windows=windows,
        )

    def handoff(self, number: int) -> datetime:
        """The instant of handoff `number` (0 starts the first shift). Wall-clock
        arithmetic, so every handoff is at the same local time of day."""
        return wallclock.instant(self.anchor + number * self.step, self.zone)

    def shift_number(self, at: datetime) -> int | None:
        """The shift running at `at`, or None before the first handoff."""
        number = (wallclock.local(at, self.zone) - self.anchor) // self.step
        # The local reading is off by the daylight-saving shift at most, so at most
        # a step or two of correction, whatever the rotation's age.
        while number >= 0 and self.handoff(number) > at:
            number -= 1
        while self.handoff(number + 1) <= at:
            number += 1
        return number if number >= 0 else None

    def active(self, at: datetime) -> bool:
        """Inside a restriction window. A window's edges are wall-clock times read
        as handoffs are (a skipped time is the jump, a repeated one its first
        occurrence), so the window is one span of instants even on the night the
        clocks go back. A window lasts at most a day: it opened today or yesterday."""
        if not self.windows:
            return True
        today = wallclock.local(at, self.zone).date()
        for day in (today - timedelta(days=1), today):
            for window in self.windows:
                span = window.spans(day)
                if span and wallclock.instant(span[0], self.zone) <= at < wallclock.instant(span[1], self.zone):
                    return True
        return False

    def holder(self, at: datetime) -> str | None:
        """Who this rotation puts on call at `at`."""
        number = self.shift_number(at)
        if number is None or not self.active(at):
            return None
        return self.participants[number % len(self.participants)]

    def changes(self, start: datetime, end: datetime) -> set[datetime]:
        """Every instant in (start, end) at which holder() may change."""
        found = set()
        first = self.shift_number(start)
        number = 0 if first is None else first + 1
        while (moment := self.handoff(number)) < end:
            if moment > start:
                found.add(moment)
            number += 1
        day = wallclock.local(start, self.zone).date() - timedelta(days=1)
        last_day = wallclock.local(end, self.zone).date()
        while day <= last_day:
            for window in self.windows:
                span = window.spans(day)
                if span:
                    found.update(m for m in (wallclock.instant(w, self.zone) for w in span) if start < m < end)
            day += timedelta(days=1)
        return found


# --- storage -------------------------------------------------------------------------------------


def answer(rotation: Rotation) -> responses.Rotation:
    return responses.Rotation.of(rotation, restrictions=rotation.restrictions or [])


def create_rotation(body: RotationBody) -> dict:
    rotation_id = uuid.uuid4().hex
    rotation = Rotation(
        body.service_name,
        f"{KEY_PREFIX}{rotation_id}",
        id=rotation_id,
        name=body.name,
        layer=body.layer,
        participants=list(body.participants),
        shift_length=body.shift_length,
        shift_unit=body.shift_unit,
        handoff_time=body.handoff_time,
        handoff_weekday=body.handoff_weekday,
        time_zone=body.time_zone,
        start_date=body.start_date,
        restrictions=[window.model_dump() for window in body.restrictions],
        created_at=clock.now(),
        feed=FEED,
    )
    catalogue.add(body.service_name)
    db.save_new(
        rotation, Rotation.shift_key.does_not_exist(), Conflict(f"A rotation with id {rotation.id} already exists.")
    )
    return answer(rotation).body()


def delete_rotation(rotation_id: str) -> None:
    db.delete_by_public_id(Rotation, rotation_id, "rotation")


def list_rotations(service_name: str | None, limit: int, cursor: str | None) -> dict:
    if service_name:
        prefix = Rotation.shift_key.startswith(KEY_PREFIX)
        rotations, next_cursor = pagination.service_or_feed(Rotation, service_name, FEED, limit, cursor, prefix)
    else:
        rotations, next_cursor = pagination.service_or_feed(Rotation, None, FEED, limit, cursor)
    return responses.RotationPage(rotations=[answer(r) for r in rotations], next_cursor=next_cursor).body()
