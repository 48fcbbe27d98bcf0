"""Reports over time (docs/reports.md)."""

from chalicelib.api import responses
from chalicelib.apikey.access import READ
from chalicelib.incident import metrics
from chalicelib.report import reports
from chalicelib.routes.routing import Routes

routes = Routes("reports")


def _day_or_instant(default: str) -> dict:
    return {
        "type": "string",
        "description": "a date (YYYY-MM-DD) or an ISO 8601 time, whose UTC day is meant; included; " + default,
    }


@routes(
    "/api/reports",
    "GET",
    admits=READ,
    summary="Counts per UTC day or ISO week, night pages per person and the noisiest alerts, of one service or all",
    query=("service_name", "from", "to", "bucket"),
    query_schemas={
        "from": _day_or_instant("default: 7 days, or 8 ISO weeks, back; at most 366 days before to"),
        "to": _day_or_instant("default: today"),
        "bucket": {"type": "string", "enum": list(reports.BUCKETS), "default": "day"},
    },
    answer=responses.Report,
)
def get_report():
    span = reports.parse_range(routes.query("from"), routes.query("to"), routes.query("bucket"))
    return reports.read(routes.service(), span, metrics.service_names)
