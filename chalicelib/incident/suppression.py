"""Incidents opened during a maintenance window (chalicelib/maintenance/windows.py).

Such an incident is opened, folds its alerts and can be acknowledged and resolved
like any other, but pages nobody and announces nowhere. It carries the window's id
(`suppressed_by`) from its first write. While it is suppressed the escalation sweep
only looks at it again, at the window's end or after one escalation wait, whichever
is first (so ending a window early takes effect within one wait); once no window
covers its service, the sweep ends the suppression (`suppression_ended_at`) with a
"resumed" transition, which pages whoever has the incident then, and the escalation
wait starts from the window's end. Nothing is paged for what happened during it."""

from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.models import Incident, MaintenanceWindow


def _wait() -> timedelta:
    return timedelta(seconds=settings().escalate_after_seconds)


def is_suppressed(incident: Incident) -> bool:
    """Whether the sweep still treats the incident as suppressed (it has not ended it)."""
    return incident.suppressed_by is not None and incident.suppression_ended_at is None


def look_again(window: MaintenanceWindow, now: datetime) -> datetime:
    """When the sweep next looks at an incident suppressed by `window`."""
    return min(window.end, now + _wait())


def resumes(ended: datetime) -> datetime:
    """When an incident whose window ended at `ended` escalates unless acknowledged."""
    return ended + _wait()


def waited_since(now: datetime) -> datetime:
    """One escalation wait before `now`: a window that ended early after this still
    decides when its incidents escalate."""
    return now - _wait()


def opening_note(window: MaintenanceWindow) -> str:
    return f"suppressed by maintenance until {clock.iso(window.end)} ({window.reason}): nobody is paged"


def resumed_message(assignee: str | None, due_at: datetime) -> str:
    paging = f"paging {assignee}" if assignee else "nobody is assigned to page"
    return (
        f"Maintenance is over and the incident is still open: {paging} (nothing is paged for what happened "
        f"during it); it escalates at {clock.iso(due_at)} unless acknowledged."
    )
