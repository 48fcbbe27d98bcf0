"""The services that have a schedule, for what reads every schedule (shift notices):
one Query a page of the stats table's "schedules" partition, written only when an
admin adds a shift or a rotation."""

from collections.abc import Iterator

from chalicelib.models import Stats

KIND = "schedules"


def add(service_name: str) -> None:
    """List the service. Written before the schedule's own item, so that no service
    with a schedule is ever missing; writing it again changes nothing."""
    Stats(KIND, service_name).update(actions=[Stats.service_name.set(service_name)])


def services() -> Iterator[str]:
    for entry in Stats.query(KIND, page_size=100):
        yield entry.scope
