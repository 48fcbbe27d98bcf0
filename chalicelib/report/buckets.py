"""The counts reports are made of (chalicelib/report/reports.py reads them), written by
the transactions that make the transitions they count, never recomputed from incidents.

Each service has a partition of the reports table, and each UTC day two kinds of rows
in it (models.ReportBucket):

- "<day>#alert#<digest of the dedup key>": the incidents opened that day under that
  dedup key, and what became of them. An incident's counts all belong to the day it
  was opened: its opening (incidents, its first alert), its first escalation, and its
  resolve (resolved, acknowledged, the seconds to acknowledge and to resolve, and the
  alerts folded into it, which reach the report then, as they reach the metrics: a
  folded alert writes only its dedup item and its tally). So a week's MTTR is that
  of the incidents opened that week.
- "<day>#pages#<user>#<contact method id>": the pages that reached that person through
  that method that day (the day sent), and how many of them were sent at night or on a
  weekend in their own time zone. A row per method, not per person: one person's
  methods are recorded at the same time, and would contend for one row.

The day's totals are the sums of its rows, added up when read: each transition
writes one row, not a row and a total.
"""

import hashlib
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib import itemsize
from chalicelib.db import Transaction
from chalicelib.models import Dedup, Incident, ReportBucket

ALERT, PAGES = "alert", "pages"
# The counters of an alert row, named as the metrics' (chalicelib/incident/metrics.py).
COUNTERS = (
    "total_incidents",
    "alerts",
    "escalated_incidents",
    "resolved_incidents",
    "resolved_acknowledged",
    "ack_seconds_sum",
    "resolve_seconds_sum",
)
# What a row keeps of a title and of a dedup key: enough to recognise the alert, and
# little enough that the row stays within one write unit.
SHOWN_BYTES = 160
# Waking hours, local: a page from NIGHT_STARTS to NIGHT_ENDS, or on a Saturday or
# Sunday, counts as a night page.
NIGHT_STARTS, NIGHT_ENDS = 22, 8
SATURDAY = 5


def day_of(instant: datetime) -> date:
    """The UTC day an instant belongs to."""
    return instant.astimezone(timezone.utc).date()


def alert_digest(stored_dedup_key: str) -> str:
    return hashlib.sha256(stored_dedup_key.encode("utf-8")).hexdigest()[:32]


def row_key(day: date, kind: str, name: str) -> str:
    return f"{day.isoformat()}#{kind}#{name}"


def parse_key(bucket_key: str) -> tuple[date, str, str]:
    """(day, kind, digest or user and method) of a row's key."""
    day, kind, name = bucket_key.split("#", 2)
    return date.fromisoformat(day), kind, name


def count(tx: Transaction, incident: Incident, **increments: float) -> None:
    """Add increments to the row of the incident's opening day and dedup key, in tx.
    The row's title and dedup key are the first incident's of the day."""
    unknown = set(increments) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown report counters {sorted(unknown)}")
    actions = [getattr(ReportBucket, name).add(value) for name, value in increments.items()]
    title = itemsize.truncate_utf8(incident.title, SHOWN_BYTES)
    actions.append(ReportBucket.title.set(ReportBucket.title | title))
    public_key = Dedup.public_key(incident.dedup_key)
    if public_key is not None:
        shown = itemsize.truncate_utf8(public_key, SHOWN_BYTES)
        actions.append(ReportBucket.dedup_key.set(ReportBucket.dedup_key | shown))
    key = row_key(day_of(incident.created_at), ALERT, alert_digest(incident.dedup_key))
    tx.update(ReportBucket(incident.service_name, key), actions)


def is_night(at: datetime, time_zone: str | None) -> bool:
    """Outside waking hours in the zone (UTC when none): 22:00 to 08:00 local, or a
    Saturday or Sunday local. Read in the zone's rules for that instant, so it holds
    across daylight-saving changes."""
    try:
        zone = ZoneInfo(time_zone) if time_zone else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        zone = timezone.utc
    local = at.astimezone(zone)
    return local.weekday() >= SATURDAY or local.hour >= NIGHT_STARTS or local.hour < NIGHT_ENDS


def page_sent(
    tx: Transaction, service_name: str, user: str, method_id: str, time_zone: str | None, at: datetime
) -> None:
    """Count a page that reached `user` through a method at `at`, in tx (the one that records it sent)."""
    night = int(is_night(at, time_zone))
    tx.update(
        ReportBucket(service_name, row_key(day_of(at), PAGES, f"{user}#{method_id}")),
        [ReportBucket.pages.add(1), ReportBucket.night_pages.add(night)],
    )


def paged_user(name: str) -> str:
    """The user of a pages row's name ("<user>#<contact method id>"; a method id has no "#")."""
    return name.rsplit("#", 1)[0]
