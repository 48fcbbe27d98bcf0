"""Property tests of rotation arithmetic (chalicelib.schedule.rotations.Plan) and of the final
schedule (chalicelib.schedule.oncall.Schedule), checked against an oracle written here from
first principles: the zone's offset transitions found by scanning utcoffset of UTC
instants, wall times converted by trying every offset in force near them, handoffs
enumerated by walking wall-clock steps from the anchor, participants picked by index."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chalicelib import clock
from chalicelib.api.payloads import WEEKDAYS
from chalicelib.models import Rotation, Shift
from chalicelib.schedule import rotations
from chalicelib.schedule.oncall import Schedule
from chalicelib.schedule.rotations import Plan

UTC = timezone.utc
ZONES = (
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "America/Santiago",
    "Africa/Casablanca",
    "Pacific/Apia",
)
CREATED = datetime(2020, 1, 1, tzinfo=UTC)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the oracle: a zone's transitions and wall-clock conversion from first principles -------------


def offset_at(zone: str, instant: datetime) -> timedelta:
    """The UTC offset in force at a UTC instant (UTC -> local is never ambiguous)."""
    return instant.astimezone(ZoneInfo(zone)).utcoffset()


@cache
def transitions_on(zone: str, day: date) -> tuple[tuple[datetime, timedelta, timedelta], ...]:
    """(instant, offset before, offset after) of each offset change in the UTC day `day`,
    found by sampling every hour and bisecting each change to the second."""
    found = []
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    previous = offset_at(zone, midnight)
    for hour in range(1, 25):
        later = midnight + timedelta(hours=hour)
        offset = offset_at(zone, later)
        if offset != previous:
            low, high = later - timedelta(hours=1), later
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if offset_at(zone, middle) == previous:
                    low = middle
                else:
                    high = middle
            found.append((high, previous, offset))
            previous = offset
    return tuple(found)


def transitions_between(zone: str, start: datetime, end: datetime) -> list[tuple[datetime, timedelta, timedelta]]:
    day, found = start.date(), []
    while day <= end.date():
        found.extend(t for t in transitions_on(zone, day) if start <= t[0] < end)
        day += timedelta(days=1)
    return found


def oracle_local(zone: str, instant: datetime) -> datetime:
    return (instant + offset_at(zone, instant)).replace(tzinfo=None)


def oracle_instant(zone: str, wall: datetime) -> datetime:
    """The instant of a naive wall time: its first occurrence; in a skipped span, the jump."""
    as_utc = wall.replace(tzinfo=UTC)
    low = datetime.combine(wall.date() - timedelta(days=2), time(), UTC)
    high = low + timedelta(days=5)
    changes = transitions_between(zone, low, high)
    bounds = [low] + [moment for moment, _, _ in changes] + [high]
    # Each stretch between transitions has one offset: the wall time read with it, if inside.
    readings = [(as_utc - offset_at(zone, begin), begin, end) for begin, end in pairwise(bounds)]
    valid = [u for u, begin, end in readings if begin <= u < end]
    if valid:
        return min(valid)
    for moment, before, after in changes:
        if moment + before <= as_utc < moment + after:
            return moment
    raise AssertionError(f"no instant for {wall} in {zone}")


def fall_backs(zone: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime, datetime]]:
    """(instant, first repeated wall time, wall time the repeat ends at) of each fall-back."""
    return [
        (moment, (moment + after).replace(tzinfo=None), (moment + before).replace(tzinfo=None))
        for moment, before, after in transitions_between(zone, start, end)
        if after < before
    ]


@cache
def zone_transitions_2024_2030(zone: str) -> tuple[datetime, ...]:
    moments = []
    day = datetime(2024, 1, 1, tzinfo=UTC)
    previous = offset_at(zone, day)
    while day.year < 2031:
        following = day + timedelta(days=1)
        offset = offset_at(zone, following)
        if offset != previous:
            moments.extend(moment for moment, _, _ in transitions_on(zone, day.date()))
            previous = offset
        day = following
    return tuple(moments)


ALL_TRANSITIONS = tuple((zone, moment) for zone in ZONES for moment in zone_transitions_2024_2030(zone))


# --- the oracle: a rotation as the brief describes it ------------------------------------------


@dataclass(frozen=True)
class Spec:
    participants: tuple[str, ...]
    length: int
    unit: str
    handoff_time: time
    weekday: int | None
    zone: str
    start_date: date
    windows: tuple[tuple[frozenset[int], time, time], ...] = ()
    layer: int = 1
    name: str = "primary"

    def model(self) -> Rotation:
        return Rotation(
            "svc",
            f"{rotations.KEY_PREFIX}{self.name}",
            id=f"{self.name:0<32}"[:32],
            name=self.name,
            layer=self.layer,
            participants=list(self.participants),
            shift_length=self.length,
            shift_unit=self.unit,
            handoff_time=self.handoff_time.strftime("%H:%M"),
            handoff_weekday=None if self.weekday is None else WEEKDAYS[self.weekday],
            time_zone=self.zone,
            start_date=self.start_date.isoformat(),
            restrictions=[
                {"weekdays": [WEEKDAYS[d] for d in sorted(days)], "start": f"{s:%H:%M}", "end": f"{e:%H:%M}"}
                for days, s, e in self.windows
            ],
            created_at=CREATED,
        )

    def plan(self) -> Plan:
        return Plan.of(self.model())

    @property
    def step(self) -> timedelta:
        return {"hours": timedelta(hours=1), "days": timedelta(days=1), "weeks": timedelta(weeks=1)}[
            self.unit
        ] * self.length

    @property
    def anchor(self) -> datetime:
        day = self.start_date
        if self.unit == "weeks" and self.weekday is not None:
            while day.weekday() != self.weekday:
                day += timedelta(days=1)
        return datetime.combine(day, self.handoff_time)

    def handoff_wall(self, number: int) -> datetime:
        return self.anchor + number * self.step

    def handoff(self, number: int) -> datetime:
        return oracle_instant(self.zone, self.handoff_wall(number))

    def first_number_near(self, instant: datetime) -> int:
        """A handoff number surely at or before `instant` (two days of margin)."""
        lead = instant.replace(tzinfo=None) - timedelta(days=2) - self.anchor
        return max(0, lead // self.step)

    def handoffs(self, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
        """Walk handoffs from a number surely before `start` until past `end`."""
        number = self.first_number_near(start)
        walked = []
        while True:
            moment = self.handoff(number)
            walked.append((number, moment))
            if moment > end:
                return walked
            number += 1

    def active(self, instant: datetime) -> bool:
        if not self.windows:
            return True
        wall = oracle_local(self.zone, instant)
        day, at = wall.weekday(), wall.time()
        for days, start, end in self.windows:
            if start < end and day in days and start <= at < end:
                return True
            if end <= start and ((day in days and at >= start) or ((day - 1) % 7 in days and at < end)):
                return True
        return False

    def number_at(self, instant: datetime) -> int | None:
        walked = self.handoffs(instant, instant)
        started = [number for number, moment in walked if moment <= instant]
        if walked[0][1] > instant and walked[0][0] > 0:
            raise AssertionError("the walk did not start early enough")
        return max(started) if started else None

    def holder(self, instant: datetime) -> str | None:
        number = self.number_at(instant)
        if number is None or not self.active(instant):
            return None
        return self.participants[number % len(self.participants)]

    def boundaries_in_repeats(self, start: datetime, end: datetime) -> bool:
        """Whether a window boundary's wall time is repeated by a fall-back in the span
        (see test_restriction_window_inside_a_repeated_hour)."""
        for _, first, last in fall_backs(self.zone, start - timedelta(days=2), end + timedelta(days=2)):
            for _, window_start, window_end in self.windows:
                for boundary in (window_start, window_end):
                    for day in (first.date(), last.date()):
                        if first <= datetime.combine(day, boundary) <= last:
                            return True
        return False


# --- strategies -------------------------------------------------------------------------------------

TRICKY_TIMES = ["02:30", "01:30", "02:00", "03:00", "00:00", "00:30", "23:30", "01:00", "02:15", "03:30", "09:00"]
clock_times = st.one_of(
    st.sampled_from([time.fromisoformat(t) for t in TRICKY_TIMES]),
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59])),
)
zones = st.sampled_from(ZONES)
near_transition = st.builds(
    lambda pick, minutes, seconds: pick[1] + timedelta(minutes=minutes, seconds=seconds),
    st.sampled_from(ALL_TRANSITIONS),
    st.integers(-6 * 60, 6 * 60),
    st.sampled_from([0, 0, 1, -1, 30]),
)
anywhere = st.datetimes(datetime(2024, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=0)
)
instants = st.one_of(near_transition, near_transition, anywhere)
shapes = st.one_of(
    st.tuples(st.just("hours"), st.integers(1, 48)),
    st.tuples(st.just("days"), st.integers(1, 10)),
    st.tuples(st.just("weeks"), st.integers(1, 3)),
)
windows = st.tuples(
    st.frozensets(st.integers(0, 6), min_size=1, max_size=7),
    clock_times,
    clock_times,
)


@st.composite
def specs(draw, zone=None, start_before=None, restricted=None, name="primary", layer=1):
    zone = zone or draw(zones)
    unit, length = draw(shapes)
    if start_before is not None:
        start_date = start_before.date() - timedelta(days=draw(st.integers(2, 400)))
    else:
        start_date = draw(st.dates(date(2023, 6, 1), date(2030, 12, 31)))
    weekday = draw(st.one_of(st.none(), st.integers(0, 6))) if unit == "weeks" else None
    if restricted is None:
        restricted = draw(st.booleans())
    chosen = tuple(draw(st.lists(windows, min_size=1, max_size=3))) if restricted else ()
    return Spec(
        participants=tuple(draw(st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=5))),
        length=length,
        unit=unit,
        handoff_time=draw(clock_times),
        weekday=weekday,
        zone=zone,
        start_date=start_date,
        windows=chosen,
        name=name,
        layer=layer,
    )


@st.composite
def spec_and_instant(draw, **kwargs):
    """A rotation and an instant, the instant usually near one of the rotation zone's transitions."""
    zone = draw(zones)
    own = [moment for moment in zone_transitions_2024_2030(zone)]
    if own and draw(st.booleans()):
        at = draw(st.sampled_from(own)) + timedelta(minutes=draw(st.integers(-5 * 60, 5 * 60)))
        at += timedelta(seconds=draw(st.sampled_from([0, 0, 1, -1, 59])))
    else:
        at = draw(instants)
    spec = draw(specs(zone=zone, **kwargs))
    if draw(st.booleans()):
        # Start right before the instant, so that its neighbourhood holds the first handoffs.
        spec = Spec(**{**spec.__dict__, "start_date": (at - timedelta(days=draw(st.integers(0, 3)))).date()})
    return spec, at


def single(spec: Spec) -> Schedule:
    return Schedule([], [(spec.model(), spec.plan())], [])


def parse(text: str) -> datetime:
    return clock.parse_iso(text)


# --- the oracle checks itself on known answers -----------------------------------------------------


ORACLE_CASES = [
    ("America/New_York", "2024-03-10T02:30", "2024-03-10T07:00:00+00:00"),  # skipped: the jump
    ("America/New_York", "2024-11-03T01:30", "2024-11-03T05:30:00+00:00"),  # repeated: the first
    ("Europe/Berlin", "2025-03-30T02:30", "2025-03-30T01:00:00+00:00"),
    ("Europe/Berlin", "2025-10-26T02:30", "2025-10-26T00:30:00+00:00"),
    ("Australia/Lord_Howe", "2024-10-06T02:15", "2024-10-05T15:30:00+00:00"),  # 30-minute gap
    ("Australia/Lord_Howe", "2025-04-06T01:45", "2025-04-05T14:45:00+00:00"),  # 30-minute repeat
    ("America/Santiago", "2024-09-08T00:30", "2024-09-08T04:00:00+00:00"),  # midnight gap
    ("America/Santiago", "2025-04-05T23:30", "2025-04-06T02:30:00+00:00"),  # repeat before midnight
    ("Pacific/Apia", "2011-12-30T09:00", "2011-12-30T10:00:00+00:00"),  # the skipped day
    ("Asia/Kolkata", "2025-06-01T09:00", "2025-06-01T03:30:00+00:00"),
]


def test_the_oracle_converts_wall_times_as_specified():
    for zone, wall, expected in ORACLE_CASES:
        assert oracle_instant(zone, datetime.fromisoformat(wall)) == datetime.fromisoformat(expected), (zone, wall)


def test_transitions_of_every_zone_are_found():
    counts = {zone: len(zone_transitions_2024_2030(zone)) for zone in ZONES}
    for zone in ("Asia/Kolkata", "America/Sao_Paulo", "Pacific/Apia"):
        assert counts[zone] == 0, zone
    for zone in ("America/New_York", "Europe/London", "Europe/Berlin", "Australia/Sydney", "Pacific/Auckland"):
        assert counts[zone] == 14, zone
    assert counts["Australia/Lord_Howe"] == 14
    assert counts["America/Santiago"] >= 12
    assert counts["Africa/Casablanca"] >= 12


# --- properties ------------------------------------------------------------------------------------


@PROPERTY
@given(spec_and_instant())
def test_exactly_the_expected_participant_is_on_call(case):
    spec, at = case
    # The oracle reads windows by the wall clock; the product, like a handoff, takes a
    # boundary in a repeated hour at its first occurrence (the test of that is below).
    assume(not spec.boundaries_in_repeats(at, at))
    plan = spec.plan()
    expected = spec.holder(at)
    assert plan.holder(at) == expected
    assert single(spec).holder(at).user == expected
    number = spec.number_at(at)
    assert plan.shift_number(at) == number


@PROPERTY
@given(spec_and_instant(restricted=False))
def test_handoffs_are_at_the_wall_clock_time_the_jump_or_the_first_occurrence(case):
    spec, at = case
    plan = spec.plan()
    assert plan.anchor == spec.anchor
    first = spec.first_number_near(at)
    previous = None
    for number in range(first, first + 6):
        wall = spec.handoff_wall(number)
        moment = plan.handoff(number)
        assert moment == spec.handoff(number), (number, wall)
        shown = oracle_local(spec.zone, moment)
        if shown == wall:
            # The wall time exists: no earlier instant shows it (first occurrence).
            for _, first_repeat, end_repeat in fall_backs(
                spec.zone, moment - timedelta(days=1), moment + timedelta(seconds=1)
            ):
                assert not first_repeat <= wall < end_repeat, "a repeated wall time named its second occurrence"
        else:
            # The wall time was skipped: the handoff is the jump over it.
            assert shown > wall
            assert oracle_local(spec.zone, moment - timedelta(seconds=1)) < wall
        if previous is not None:
            assert previous <= moment, "handoff instants must not decrease"
        previous = moment
        if moment > at and number > first + 1:
            break


@PROPERTY
@given(spec_and_instant(restricted=False), st.integers(1, 6))
def test_after_the_first_handoff_exactly_one_person_holds_every_instant(case, hours):
    spec, at = case
    plan = spec.plan()
    first = spec.handoff(0)
    moment = at
    while moment < at + timedelta(hours=hours):
        holder = plan.holder(moment)
        if moment < first:
            assert holder is None
        else:
            assert holder in spec.participants
            assert holder == spec.holder(moment)
        moment += timedelta(minutes=20)


def check_intervals(schedule: Schedule, start: datetime, end: datetime, expected_holder) -> list[dict]:
    intervals = schedule.intervals(start, end)
    assert intervals, "a span always has at least one interval"
    assert parse(intervals[0]["start"]) == start
    assert parse(intervals[-1]["end"]) == end
    for before, after in pairwise(intervals):
        assert before["end"] == after["start"], "intervals must tile [from, to)"
        assert (before["user"], before["source"]) != (after["user"], after["source"]), "adjacent intervals merge"
    for interval in intervals:
        begin, finish = parse(interval["start"]), parse(interval["end"])
        assert begin < finish
        assert interval["gap"] == (interval["user"] is None)
        samples = {begin, finish - timedelta(milliseconds=1), begin + (finish - begin) / 2}
        samples.update(begin + (finish - begin) * k / 7 for k in range(1, 7))
        for sample in samples:
            holder = schedule.holder(sample)
            assert (holder.user, holder.source) == (interval["user"], interval["source"]), (sample, interval)
            assert holder.user == expected_holder(sample), (sample, interval)
    return intervals


@st.composite
def windows_over(draw):
    """A span of hours to days, usually straddling a DST transition."""
    if draw(st.booleans()):
        zone, moment = draw(st.sampled_from(ALL_TRANSITIONS))
        start = moment - timedelta(minutes=draw(st.integers(1, 48 * 60)))
    else:
        start = draw(anywhere)
    return start, start + timedelta(minutes=draw(st.integers(30, 5 * 24 * 60)))


@PROPERTY
@given(windows_over(), st.data())
def test_final_schedule_tiles_the_span_and_agrees_with_holder(span, data):
    start, end = span
    spec = data.draw(specs())
    assume(not spec.boundaries_in_repeats(start, end))
    intervals = check_intervals(single(spec), start, end, spec.holder)
    if not spec.windows and spec.handoff(0) <= start:
        assert not any(interval["gap"] for interval in intervals)


@PROPERTY
@given(windows_over(), st.data())
def test_a_rotation_started_before_the_span_and_unrestricted_leaves_no_gap(span, data):
    start, end = span
    zone = data.draw(zones)
    spec = data.draw(specs(zone=zone, start_before=start, restricted=False))
    assume(spec.handoff(0) <= start)  # a weekly handoff weekday may push the first handoff later
    intervals = check_intervals(single(spec), start, end, spec.holder)
    assert [interval["gap"] for interval in intervals] == [False] * len(intervals)
    if len(spec.participants) > 1 and len(set(spec.participants)) == len(spec.participants):
        # Every handoff inside the span is an interval boundary (distinct participants).
        inside = {moment for _, moment in spec.handoffs(start, end) if start < moment < end}
        assert inside <= {parse(interval["start"]) for interval in intervals}


@PROPERTY
@given(windows_over(), st.data())
def test_higher_layer_wins_where_active_lower_shows_through_and_overrides_win(span, data):
    start, end = span
    upper = data.draw(specs(restricted=True, name="upper", layer=2))
    lower = data.draw(specs(name="lower", layer=1))
    assume(not upper.boundaries_in_repeats(start, end) and not lower.boundaries_in_repeats(start, end))
    plain_start = start + (end - start) * data.draw(st.integers(0, 9)) / 10
    plain = Shift("svc", "plain", id="p" * 32, user="plain", start_time=plain_start, end_time=end, created_at=CREATED)
    override_start = start + (end - start) * data.draw(st.integers(0, 9)) / 10
    override_end = override_start + (end - override_start) * data.draw(st.integers(1, 10)) / 10
    override = Shift(
        "svc",
        "override",
        id="o" * 32,
        user="override",
        start_time=override_start.replace(microsecond=0),
        end_time=override_end.replace(microsecond=0),
        is_override=True,
        created_at=CREATED,
    )
    assume(override.start_time < override.end_time)
    schedule = Schedule([override], [(upper.model(), upper.plan()), (lower.model(), lower.plan())], [plain])

    def expected(at):
        if override.start_time <= at < override.end_time:
            return "override"
        for spec in (upper, lower):
            if (user := spec.holder(at)) is not None:
                return user
        return "plain" if plain_start <= at else None

    check_intervals(schedule, start, end, expected)
    for k in range(12):
        at = start + (end - start) * k / 12
        holder = schedule.holder(at)
        assert holder.user == expected(at)
        if not override.start_time <= at < override.end_time and upper.holder(at) is not None:
            assert holder.source["layer"] == 2


@pytest.mark.parametrize(("unit", "length"), [("hours", 1), ("hours", 7), ("days", 1), ("days", 3), ("weeks", 1)])
def test_cost_does_not_depend_on_age(monkeypatch, unit, length):
    """A rotation started in 1971 evaluated in 2099 (at DST changes of 2099 too)."""
    calls = []
    real = rotations.wallclock.instant

    def counting(wall, tz):
        calls.append(wall)
        return real(wall, tz)

    instants = [
        datetime(2099, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2099, 10, 25, 1, 0, 1, tzinfo=UTC),
        datetime(2099, 11, 1, 6, 30, tzinfo=UTC),
        datetime(2099, 12, 31, 23, 59, tzinfo=UTC),
    ]
    for zone in ZONES:
        weekday = 6 if unit == "weeks" else None
        spec = Spec(("a", "b", "c"), length, unit, time(2, 30), weekday, zone, date(1971, 2, 3))
        plan = spec.plan()
        for at in instants:
            calls.clear()
            monkeypatch.setattr(rotations.wallclock, "instant", counting)
            number = plan.shift_number(at)
            monkeypatch.setattr(rotations.wallclock, "instant", real)
            assert len(calls) <= 4, (zone, at, calls)
            assert number == spec.number_at(at), (zone, at)


def test_apia_skipped_day_of_2011():
    """Pacific/Apia skipped 2011-12-30: both handoffs named inside it are at the jump."""
    spec = Spec(("a", "b", "c"), 1, "days", time(9), None, "Pacific/Apia", date(2011, 12, 27))
    plan = spec.plan()
    jump = datetime(2011, 12, 30, 10, tzinfo=UTC)
    assert plan.handoff(3) == jump  # 2011-12-30 09:00 does not exist
    assert plan.handoff(4) == datetime(2011, 12, 30, 19, tzinfo=UTC)  # 2011-12-31 09:00 at +14
    moment = datetime(2011, 12, 27, tzinfo=UTC)
    while moment < datetime(2012, 1, 2, tzinfo=UTC):
        assert plan.holder(moment) == spec.holder(moment), moment
        moment += timedelta(minutes=30)
    check_intervals(single(spec), datetime(2011, 12, 28, tzinfo=UTC), datetime(2012, 1, 2, tzinfo=UTC), spec.holder)


# --- restriction windows whose boundary lies in a repeated hour: one span of instants ---------------

REPEATED_WINDOW_CASES = [
    # zone, the fall-back day, a window ending inside the repeated hour, the span checked
    ("America/New_York", "sunday", "00:00", "01:30", datetime(2024, 11, 3, 3, tzinfo=UTC)),
    ("Europe/Berlin", "sunday", "00:00", "02:30", datetime(2025, 10, 25, 22, tzinfo=UTC)),
    ("Australia/Sydney", "sunday", "00:00", "02:30", datetime(2025, 4, 5, 12, tzinfo=UTC)),
    ("Australia/Lord_Howe", "sunday", "00:00", "01:45", datetime(2025, 4, 5, 12, tzinfo=UTC)),
    ("America/Santiago", "saturday", "20:00", "23:30", datetime(2025, 4, 5, 22, tzinfo=UTC)),
]


@pytest.mark.parametrize(("zone", "weekday", "start", "end", "since"), REPEATED_WINDOW_CASES)
def test_restriction_window_inside_a_repeated_hour(zone, weekday, start, end, since):
    spec = Spec(
        ("a", "b"),
        1,
        "days",
        time(9),
        None,
        zone,
        date(2024, 1, 1),
        windows=((frozenset({WEEKDAYS.index(weekday)}), time.fromisoformat(start), time.fromisoformat(end)),),
    )
    schedule = single(spec)
    until = since + timedelta(hours=8)
    intervals = schedule.intervals(since, until)
    for interval in intervals:
        begin, finish = parse(interval["start"]), parse(interval["end"])
        moment = begin
        while moment < finish:
            assert schedule.holder(moment).user == interval["user"], (moment, interval)
            moment += timedelta(minutes=15)
