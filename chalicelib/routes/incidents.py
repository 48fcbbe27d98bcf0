"""Incidents: trigger, transitions, reads, and working on them together."""

from chalicelib.api import payloads, responses
from chalicelib.apikey.access import READ, RESPOND, TRIGGER
from chalicelib.escalation import policy, sweep
from chalicelib.incident import bulk, incidents
from chalicelib.routes.routing import Routes

routes = Routes("incidents")


@routes(
    "/api/incidents/trigger",
    "POST",
    admits=TRIGGER,
    summary="Open an incident, or fold the alert into the open incident with the same dedup key",
    body=payloads.TriggerBody,
    responses={201: "a new incident", 200: "folded into an open incident (deduplicated: true)"},
    answer={201: responses.Incident, 200: responses.FoldedAlert},
)
def trigger_incident(caller):
    body = routes.body(payloads.TriggerBody)
    caller.require_service(body.service_name)
    incident, created = incidents.trigger(body, caller.actor)
    return routes.created(incident) if created else incident


# Acknowledge and resolve take PUT or POST, with an optional body the original API sent.
TRANSITION = {"admits": RESPOND, "body": payloads.ActorBody, "body_required": False, "answer": responses.Incident}


@routes("/api/incidents/{incident_id}/acknowledge", "PUT", "POST", summary="Acknowledge an incident", **TRANSITION)
def acknowledge_incident(caller, incident_id):
    number = incidents.parse_id(incident_id)
    routes.body(payloads.ActorBody, required=False)
    return incidents.acknowledge(number, caller.actor)


@routes("/api/incidents/{incident_id}/resolve", "PUT", "POST", summary="Resolve an acknowledged incident", **TRANSITION)
def resolve_incident(caller, incident_id):
    number = incidents.parse_id(incident_id)
    routes.body(payloads.ActorBody, required=False)
    return incidents.resolve(number, caller.actor)


@routes(
    "/api/incidents/{incident_id}",
    "GET",
    admits=READ,
    summary="An incident and its timeline",
    answer=responses.IncidentDetail,
)
def get_incident(incident_id):
    return incidents.detail(incidents.parse_id(incident_id), policy.next_step)


@routes(
    "/api/incidents/list/all",
    "GET",
    admits=READ,
    summary="Incidents, newest first",
    query=("status", "service_name", "limit", "cursor"),
    answer=responses.IncidentPage,
)
def list_incidents():
    return incidents.list_page(routes.query("status"), routes.service(), routes.limit(), routes.query("cursor"))


@routes(
    "/api/incidents/escalate/check",
    "POST",
    admits=RESPOND,
    summary="Run the escalation sweep now",
    answer=responses.SweepResult,
)
def escalate_check():
    return sweep.run()


@routes(
    "/api/incidents/{incident_id}/notes",
    "POST",
    admits=RESPOND,
    summary="Add a note to an incident's timeline (open or resolved); it notifies nobody",
    body=payloads.NoteBody,
    status=201,
    answer=responses.Note,
)
def add_note(caller, incident_id):
    number = incidents.parse_id(incident_id)
    return routes.created(incidents.add_note(number, routes.body(payloads.NoteBody).text, caller.actor))


@routes(
    "/api/incidents/{incident_id}/reassign",
    "POST",
    admits=RESPOND,
    summary="Hand an open incident to another user; its channels announce it",
    body=payloads.ReassignBody,
    answer=responses.Incident,
)
def reassign_incident(caller, incident_id):
    number = incidents.parse_id(incident_id)
    return incidents.reassign(number, routes.body(payloads.ReassignBody).user, caller.actor)


# Each id is acknowledged or resolved on its own; the answer holds each id's outcome.
BULK = {
    "admits": RESPOND,
    "body": payloads.IncidentIdsBody,
    "responses": {200: "each id's outcome, in order"},
    "answer": responses.BulkResult,
}


@routes("/api/incidents/bulk/acknowledge", "POST", summary="Acknowledge up to 100 incidents", **BULK)
def bulk_acknowledge(caller):
    return bulk.acknowledge(routes.body(payloads.IncidentIdsBody).ids, caller.actor)


@routes("/api/incidents/bulk/resolve", "POST", summary="Resolve up to 100 acknowledged incidents", **BULK)
def bulk_resolve(caller):
    return bulk.resolve(routes.body(payloads.IncidentIdsBody).ids, caller.actor)
