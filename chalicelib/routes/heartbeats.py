"""Heartbeat monitors: admins make and change them, jobs ping them, the overdue check
fires them (docs/heartbeats.md)."""

from chalicelib.api import payloads, responses
from chalicelib.apikey.access import CHECK_IN, MANAGE, PUBLIC, READ
from chalicelib.heartbeat import monitors, overdue
from chalicelib.routes.routing import Routes

routes = Routes("heartbeats")


@routes(
    "/api/heartbeats",
    "GET",
    admits=READ,
    summary="Heartbeat monitors, by service then name, without their secrets",
    query=("service_name", "limit", "cursor"),
    answer=responses.HeartbeatPage,
)
def list_heartbeats():
    return monitors.list_page(routes.service(), routes.limit(), routes.query("cursor"))


@routes(
    "/api/heartbeats",
    "POST",
    admits=MANAGE,
    summary="Add a heartbeat monitor; its ping URL (with the secret) is shown only in this answer",
    body=payloads.HeartbeatBody,
    status=201,
    answer=responses.NewHeartbeat,
)
def create_heartbeat():
    return routes.created(monitors.create(routes.body(payloads.HeartbeatBody), routes.base_url()))


@routes(
    "/api/heartbeats/check",
    "POST",
    admits=MANAGE,
    summary="Run the overdue check now: open an incident for each heartbeat whose check-in is late",
    answer=responses.HeartbeatCheck,
)
def check_heartbeats():
    return overdue.run()


@routes("/api/heartbeats/{heartbeat_id}", "GET", admits=READ, summary="A heartbeat", answer=responses.Heartbeat)
def get_heartbeat(heartbeat_id):
    return monitors.get(heartbeat_id)


@routes(
    "/api/heartbeats/{heartbeat_id}",
    "PATCH",
    admits=MANAGE,
    summary="Change a heartbeat's interval or grace; its ping URL stays the same",
    body=payloads.HeartbeatChange,
    answer=responses.Heartbeat,
)
def change_heartbeat(heartbeat_id):
    return monitors.change(heartbeat_id, routes.body(payloads.HeartbeatChange))


@routes(
    "/api/heartbeats/{heartbeat_id}",
    "DELETE",
    admits=MANAGE,
    summary="Delete a heartbeat: its ping URL stops working at once",
    status=204,
)
def delete_heartbeat(heartbeat_id):
    monitors.delete(heartbeat_id)
    return routes.no_content()


# A ping takes no body; whatever a job or Alertmanager sends with it is ignored.
PING = {"body_required": False, "answer": responses.HeartbeatPing}


@routes(
    "/api/heartbeats/{heartbeat_id}/ping",
    "POST",
    "GET",
    admits=CHECK_IN,
    summary="Check in with an integration key for the heartbeat's service (or an admin key)",
    **PING,
)
def ping_heartbeat(caller, heartbeat_id):
    return monitors.ping_with_key(heartbeat_id, caller)


# Public: the secret in the path is the credential.
@routes(
    "/api/heartbeats/{heartbeat_id}/ping/{secret}",
    "POST",
    "GET",
    admits=PUBLIC,
    summary="Check in through the heartbeat's ping URL (the secret in the path is the credential; an unknown id "
    "and a wrong secret both answer 404)",
    errors=(404,),
    **PING,
)
def ping_heartbeat_url(heartbeat_id, secret):
    return monitors.ping_with_secret(heartbeat_id, secret)
