"""MTTA, MTTR and counts."""

from chalicelib.api import responses
from chalicelib.apikey.access import READ
from chalicelib.incident import metrics
from chalicelib.routes.routing import Routes

routes = Routes("metrics")


@routes(
    "/api/metrics",
    "GET",
    admits=READ,
    summary="MTTA, MTTR and counts, overall or of one service",
    query=("service_name",),
    answer=responses.Metrics,
)
def get_metrics():
    return metrics.read(routes.service())


@routes(
    "/api/metrics/services",
    "GET",
    admits=READ,
    summary="Metrics of each service",
    query=("limit", "cursor"),
    answer=responses.ServiceMetricsPage,
)
def get_service_metrics():
    return metrics.per_service(routes.limit(), routes.query("cursor"))
