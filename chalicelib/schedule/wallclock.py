"""Wall-clock time in IANA time zones: which instant a local time names, including
the local times daylight saving skips (none) and repeats (two)."""

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.errors import InvalidInput


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"time_zone must be an IANA time zone such as Europe/Berlin, got {name[:60]!r}.", field="time_zone"
        ) from None


def local(instant: datetime, tz: ZoneInfo) -> datetime:
    """The wall-clock time (naive) that `instant` shows in `tz`."""
    return instant.astimezone(tz).replace(tzinfo=None)


def instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of the naive wall-clock time `wall` in `tz`.

    A time the clocks repeat (the hour after a fall-back) names its first
    occurrence. A time the clocks skip (inside a spring-forward gap) names the
    first valid instant after it: the moment the clocks jump."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
    if local(first, tz) == wall:
        return first
    # In a gap, fold=0 reads the wall time with the offset before the jump and
    # fold=1 with the offset after; the jump lies between the two readings.
    other = wall.replace(tzinfo=tz, fold=1).astimezone(timezone.utc)
    before, after = sorted((first, other))
    # Bisect to the second for the first instant whose wall time is past `wall`.
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        middle = middle.replace(microsecond=0)
        if middle <= before:
            middle = before + timedelta(seconds=1)
        if local(middle, tz) > wall:
            after = middle
        else:
            before = middle
    return after
