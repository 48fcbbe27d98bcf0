"""Escalation levels and policies."""

from chalicelib.api import payloads, responses
from chalicelib.apikey.access import MANAGE, READ
from chalicelib.escalation import policy
from chalicelib.routes import http
from chalicelib.routes.routing import Routes

routes = Routes("escalation")


@routes(
    "/api/escalation/levels",
    "GET",
    admits=READ,
    summary="Escalation levels",
    query=("service_name", "limit", "cursor"),
    answer=responses.EscalationLevelPage,
)
def list_levels():
    return policy.list_levels(routes.service(), routes.limit(), routes.query("cursor"))


@routes(
    "/api/escalation/levels",
    "POST",
    admits=MANAGE,
    summary="Add an escalation level",
    body=payloads.LevelBody,
    status=201,
    answer=responses.EscalationLevel,
)
def create_level():
    return routes.created(policy.create_level(routes.body(payloads.LevelBody)))


@routes("/api/escalation/levels/{level_id}", "DELETE", admits=MANAGE, summary="Remove an escalation level", status=204)
def delete_level(level_id):
    policy.delete_level(level_id)
    return routes.no_content()


@routes(
    "/api/escalation/policies/{service_name}",
    "GET",
    admits=READ,
    summary="A service's escalation policy: its levels in order and how many times the climb repeats",
    answer=responses.EscalationPolicy,
)
def get_policy(service_name):
    return policy.read_policy(http.name_in_path(service_name, "service_name"))


@routes(
    "/api/escalation/policies/{service_name}",
    "PUT",
    admits=MANAGE,
    summary="Set how many times a service's escalation climb repeats after its last level",
    body=payloads.PolicyBody,
    answer=responses.EscalationPolicy,
)
def set_policy(service_name):
    name = http.name_in_path(service_name, "service_name")
    return policy.set_policy(name, routes.body(payloads.PolicyBody))
