"""MTTA, MTTR and counts."""

from .. import (
    metrics,
)
from ..access import READ
from ..routing import Routes

routes = Routes("metrics")


@routes(
    "/api/metrics",
    "GET",
    admits=READ,
    summary="MTTA, MTTR and counts, overall or of one service",
    query=("service_name",),
)
def get_metrics():
    return metrics.read(routes.service())


@routes("/api/metrics/services", "GET", admits=READ, summary="Metrics of each service", query=("limit", "cursor"))
def get_service_metrics():
    return metrics.per_service(routes.limit(), routes.query("cursor"))
