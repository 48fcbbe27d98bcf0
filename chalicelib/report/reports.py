"""A report over a range of UTC days: the rows of chalicelib/report/buckets.py added up by
day or by ISO week (Monday 00:00 UTC to the next), and the noisiest alerts of the range.

One Query a service reads the range (DynamoDB pages it; every page is read here, the
range being at most MAX_DAYS); without a service, each service the metrics list, in
parallel."""

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta

from chalicelib import clock
from chalicelib.api import responses
from chalicelib.api.payloads import EARLIEST, LATEST
from chalicelib.errors import InvalidInput
from chalicelib.models import ReportBucket
from chalicelib.report import buckets

MAX_DAYS = 366
BUCKETS = ("day", "week")
# Without bucket=week a report covers the last DEFAULT_DAYS days, with it the last
# DEFAULT_WEEKS ISO weeks (the current one so far included).
DEFAULT_DAYS = 7
DEFAULT_WEEKS = 8
NOISIEST = 10
PARALLEL_SERVICES = 16


@dataclass(frozen=True)
class Range:
    first: date
    last: date
    bucket: str


def _day(raw: str | None, name: str) -> date | None:
    """A date (YYYY-MM-DD), or the UTC day of an ISO 8601 instant."""
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
        else:
            day = buckets.day_of(clock.parse_iso(raw)) if len(raw) <= 64 else None
    except ValueError:
        day = None
    if day is None or not EARLIEST.date() <= day < LATEST.date():
        raise InvalidInput(
            f"{name} must be a date (2026-03-01) or an ISO 8601 time with a UTC offset "
            "(2026-03-01T09:00:00Z, whose UTC day is meant), between 1970 and 2099.",
            field=name,
        )
    return day


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def parse_range(raw_from: str | None, raw_to: str | None, raw_bucket: str | None) -> Range:
    """The days a report covers, both included. `to` defaults to today (UTC); `from` to
    DEFAULT_DAYS days ending `to`, or with weeks to the Monday DEFAULT_WEEKS ISO weeks
    back (the week of `to` being the last)."""
    bucket = raw_bucket or "day"
    if bucket not in BUCKETS:
        raise InvalidInput(f"bucket must be one of {', '.join(BUCKETS)}.", field="bucket")
    last = _day(raw_to, "to") or buckets.day_of(clock.now())
    first = _day(raw_from, "from")
    if first is None:
        if bucket == "day":
            first = last - timedelta(days=DEFAULT_DAYS - 1)
        else:
            first = _monday(last) - timedelta(weeks=DEFAULT_WEEKS - 1)
    if last < first:
        # Of the two, the one the caller sent (`to` defaults to today).
        raise InvalidInput(f"to ({last}) is before from ({first}).", field="to" if raw_to else "from")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(
            f"from ({first}) is more than {MAX_DAYS} days before to ({last}), both included; ask for a year at most.",
            field="from",
        )
    return Range(first, last, bucket)


@dataclass
class _Sums:
    values: dict[str, float] = field(default_factory=lambda: dict.fromkeys(buckets.COUNTERS, 0))
    # user -> [pages, night pages]
    pages: dict[str, list[int]] = field(default_factory=dict)

    def add(self, row: ReportBucket, kind: str, name: str) -> None:
        if kind == buckets.ALERT:
            for counter in buckets.COUNTERS:
                self.values[counter] += getattr(row, counter) or 0
        elif kind == buckets.PAGES:
            sent = self.pages.setdefault(buckets.paged_user(name), [0, 0])
            sent[0] += int(row.pages or 0)
            sent[1] += int(row.night_pages or 0)

    def answer(self, start: date, end: date) -> responses.ReportBucket:
        values = self.values
        resolved = int(values["resolved_incidents"])
        acknowledged = int(values["resolved_acknowledged"])
        users = [responses.UserPages(user=user, pages=p, night_pages=n) for user, (p, n) in sorted(self.pages.items())]
        return responses.ReportBucket(
            start=start,
            end=end,
            incidents=int(values["total_incidents"]),
            alerts=int(values["alerts"]),
            escalated=int(values["escalated_incidents"]),
            resolved=resolved,
            acknowledged=acknowledged,
            mtta_seconds=_mean(values["ack_seconds_sum"], acknowledged),
            mttr_seconds=_mean(values["resolve_seconds_sum"], resolved),
            pages_sent=sum(user.pages for user in users),
            night_pages=sum(user.night_pages for user in users),
            pages_by_user=users,
        )


def _mean(total: float, n: int) -> float | None:
    return round(float(total) / n, 3) if n else None


@dataclass
class _Noise:
    service_name: str
    title: str | None
    dedup_key: str | None
    alerts: int = 0
    incidents: int = 0

    def order(self) -> tuple:
        return (-self.alerts, -self.incidents, self.service_name, self.title or "", self.dedup_key or "")


def _rows(service_name: str, span: Range) -> list[ReportBucket]:
    """Every row of the service's range: one Query, read to its last page."""
    between = ReportBucket.bucket_key.between(f"{span.first.isoformat()}#", f"{span.last.isoformat()}#~")
    return list(ReportBucket.query(service_name, between, consistent_read=True))


def _starts(span: Range) -> list[date]:
    """Each bucket's first day, within the range."""
    if span.bucket == "day":
        return [span.first + timedelta(days=n) for n in range((span.last - span.first).days + 1)]
    mondays = range(0, (span.last - _monday(span.first)).days + 1, 7)
    return [max(span.first, _monday(span.first) + timedelta(days=n)) for n in mondays]


def _position(span: Range, day: date) -> int:
    """The bucket `day` falls in."""
    if span.bucket == "day":
        return (day - span.first).days
    return (_monday(day) - _monday(span.first)).days // 7


def read(service_name: str | None, span: Range, services: Callable[[], Iterable[str]]) -> dict:
    """The report of one service, or of every service `services()` names."""
    names = [service_name] if service_name else list(services())
    with ThreadPoolExecutor(max_workers=max(1, min(PARALLEL_SERVICES, len(names)))) as pool:
        found = list(zip(names, pool.map(lambda name: _rows(name, span), names), strict=True))
    starts = _starts(span)
    sums = [_Sums() for _ in starts]
    total = _Sums()
    noise: dict[tuple[str, str], _Noise] = {}
    for name, rows in found:
        for row in rows:
            day, kind, key = buckets.parse_key(row.bucket_key)
            sums[_position(span, day)].add(row, kind, key)
            total.add(row, kind, key)
            if kind == buckets.ALERT:
                loud = noise.setdefault((name, key), _Noise(name, row.title, row.dedup_key))
                loud.alerts += int(row.alerts or 0)
                loud.incidents += int(row.total_incidents or 0)
    ends = starts[1:] + [span.last + timedelta(days=1)]
    noisiest = sorted((loud for loud in noise.values() if loud.alerts), key=_Noise.order)[:NOISIEST]
    return responses.Report.model_validate(
        {
            "service_name": service_name,
            "bucket": span.bucket,
            "from": span.first,
            "to": span.last,
            "buckets": [part.answer(start, end) for part, start, end in zip(sums, starts, ends, strict=True)],
            "totals": total.answer(span.first, span.last + timedelta(days=1)),
            "noisy_alerts": [
                responses.NoisyAlert(
                    service_name=loud.service_name,
                    title=loud.title,
                    dedup_key=loud.dedup_key,
                    alerts=loud.alerts,
                    incidents=loud.incidents,
                )
                for loud in noisiest
            ],
        }
    ).body()
