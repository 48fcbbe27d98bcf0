"""Maintenance windows: times when a service's alerts still open incidents but page nobody."""

from chalicelib.api import payloads, responses
from chalicelib.apikey.access import MANAGE, READ
from chalicelib.maintenance import windows
from chalicelib.routes import http
from chalicelib.routes.routing import Routes

routes = Routes("maintenance")


@routes(
    "/api/maintenance",
    "GET",
    admits=READ,
    summary="Maintenance windows by end; those not yet over unless include_ended",
    query=("service_name", "include_ended", "limit", "cursor"),
    answer=responses.MaintenanceWindowPage,
)
def list_windows():
    return windows.list_page(
        routes.service(), http.flag(routes.request(), "include_ended"), routes.limit(), routes.query("cursor")
    )


@routes(
    "/api/maintenance",
    "POST",
    admits=MANAGE,
    summary="Add a maintenance window: the service's new incidents page nobody and escalate only after it",
    body=payloads.MaintenanceBody,
    status=201,
    answer=responses.MaintenanceWindow,
)
def create_window(caller):
    return routes.created(windows.create(routes.body(payloads.MaintenanceBody), caller.actor))


@routes(
    "/api/maintenance/{window_id}/end",
    "POST",
    admits=MANAGE,
    summary="End a maintenance window now; its open incidents escalate from then if nobody acknowledges them",
    answer=responses.MaintenanceWindow,
)
def end_window(window_id):
    return windows.end_early(window_id)


@routes("/api/maintenance/{window_id}", "DELETE", admits=MANAGE, summary="Remove a maintenance window", status=204)
def delete_window(window_id):
    windows.delete(window_id)
    return routes.no_content()
