"""The one source of time. Tests replace it and fast-forward instead of sleeping."""

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

_source: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return _source()


def set_source(source: Callable[[], datetime] | None) -> None:
    """Install a different time source; None restores the system clock."""
    global _source
    _source = source or (lambda: datetime.now(timezone.utc))


class ManualClock:
    """A clock that moves only when told to; install it with `set_source(clock)`."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start.astimezone(timezone.utc)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


def iso(instant: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, the only time format the API speaks."""
    if instant is None:
        return None
    return instant.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_millis(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, timezone.utc)


def to_millisecond(instant: datetime) -> datetime:
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 instant; a value without an offset is refused, not guessed."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        if value.tzinfo is None:
            raise ValueError("has no UTC offset")
        return value.astimezone(timezone.utc)
    except OverflowError:
        # e.g. 0001-01-01T00:00+01:00, which has no UTC equivalent
        raise ValueError("is outside the representable range") from None
