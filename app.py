"""Routes and event handlers: read the request, call chalicelib, return.

Every route names the roles it admits (chalicelib/access.py); `route` checks the
caller's key before the view runs and records the operation for the OpenAPI document."""

from chalice import Chalice, Rate, Response

from chalicelib import (
    alertmanager,
    bulk,
    channels,
    clock,
    cloudwatch,
    config,
    console,
    delivery,
    escalation,
    http,
    ical,
    incidents,
    keys,
    metrics,
    oncall,
    openapi,
    pagerduty,
    pagination,
    payloads,
    rotations,
    sns,
)
from chalicelib.access import MANAGE, PUBLIC, READ, RESPOND, TRIGGER

config.quiet_sdk_logs()
app = Chalice(app_name="oncall")
app.register_middleware(http.uniform_errors, "http")

API = openapi.Catalogue()


def route(path: str, *methods: str, admits: frozenset[str], summary: str, **spec):
    """app.route with access control, JSON errors and an entry in the API catalogue.
    `spec` describes the operation for OpenAPI: body, query, status, responses."""

    def register(view):
        operations = [API.add(path, method, admits=admits, summary=summary, **spec) for method in methods]
        options = {"content_types": http.JSON_BODY_TYPES} if operations[0].takes_body else {}
        guarded = http.endpoint(view, admits, _request)
        return app.route(path, methods=list(methods), **options)(guarded)

    return register


def _request():
    return app.current_request


def _body(model, *, required: bool = True):
    return payloads.parse(model, _request().raw_body, required=required)


def _query(name: str) -> str | None:
    return http.query_param(_request(), name)


def _service(*, required: bool = False) -> str | None:
    return http.name_param(_request(), "service_name", required=required)


def _limit() -> int:
    return pagination.parse_limit(_query("limit"))


def _created(body: dict) -> Response:
    return Response(body=body, status_code=201)


# --- health, console and the API document --------------------------------------------


@route("/api/health", "GET", admits=PUBLIC, summary="Liveness check")
def health():
    return {"status": "ok"}


@route("/", "GET", admits=PUBLIC, summary="The web console", html=True)
def console_index():
    return _console_asset("index.html")


@route("/console/{name}", "GET", admits=PUBLIC, summary="A file of the web console", html=True)
def console_file(name):
    return _console_asset(name)


def _console_asset(name: str) -> Response:
    content, content_type = console.asset(name)
    return Response(body=content, headers={"Content-Type": content_type, "Cache-Control": "no-cache"})


@route("/api/openapi.json", "GET", admits=TRIGGER, summary="This API as an OpenAPI 3 document")
def openapi_document():
    return API.document()


@route("/api/me", "GET", admits=TRIGGER, summary="The key making this call: its role, user and services")
def whoami(caller):
    return caller.describe()


# --- incidents --------------------------------------------------------------------------


@route(
    "/api/incidents/trigger",
    "POST",
    admits=TRIGGER,
    summary="Open an incident, or fold the alert into the open incident with the same dedup key",
    body=payloads.TriggerBody,
    responses={201: "a new incident", 200: "folded into an open incident (deduplicated: true)"},
)
def trigger_incident(caller):
    body = _body(payloads.TriggerBody)
    caller.require_service(body.service_name)
    incident, created = incidents.trigger(body, caller.actor)
    return _created(incident) if created else incident


# Acknowledge and resolve take PUT or POST, with an optional body the original API sent.
TRANSITION = {"admits": RESPOND, "body": payloads.ActorBody, "body_required": False}


@route("/api/incidents/{incident_id}/acknowledge", "PUT", "POST", summary="Acknowledge an incident", **TRANSITION)
def acknowledge_incident(caller, incident_id):
    number = incidents.parse_id(incident_id)
    _body(payloads.ActorBody, required=False)
    return incidents.acknowledge(number, caller.actor)


@route("/api/incidents/{incident_id}/resolve", "PUT", "POST", summary="Resolve an acknowledged incident", **TRANSITION)
def resolve_incident(caller, incident_id):
    number = incidents.parse_id(incident_id)
    _body(payloads.ActorBody, required=False)
    return incidents.resolve(number, caller.actor)


@route("/api/incidents/{incident_id}", "GET", admits=READ, summary="An incident and its timeline")
def get_incident(incident_id):
    return incidents.detail(incidents.parse_id(incident_id))


@route(
    "/api/incidents/list/all",
    "GET",
    admits=READ,
    summary="Incidents, newest first",
    query=("status", "service_name", "limit", "cursor"),
)
def list_incidents():
    return incidents.list_page(_query("status"), _service(), _limit(), _query("cursor"))


@route("/api/incidents/escalate/check", "POST", admits=RESPOND, summary="Run the escalation sweep now")
def escalate_check():
    return escalation.sweep()


@app.schedule(Rate(1, unit=Rate.MINUTES))
def escalation_sweep(event):
    return escalation.sweep()


# --- working together ---------------------------------------------------------------------


@route(
    "/api/incidents/{incident_id}/notes",
    "POST",
    admits=RESPOND,
    summary="Add a note to an incident's timeline (open or resolved); it notifies nobody",
    body=payloads.NoteBody,
    status=201,
)
def add_note(caller, incident_id):
    number = incidents.parse_id(incident_id)
    return _created(incidents.add_note(number, _body(payloads.NoteBody).text, caller.actor))


@route(
    "/api/incidents/{incident_id}/reassign",
    "POST",
    admits=RESPOND,
    summary="Hand an open incident to another user; its channels announce it",
    body=payloads.ReassignBody,
)
def reassign_incident(caller, incident_id):
    number = incidents.parse_id(incident_id)
    return incidents.reassign(number, _body(payloads.ReassignBody).user, caller.actor)


# Each id is acknowledged or resolved on its own; the answer holds each id's outcome.
BULK = {"admits": RESPOND, "body": payloads.IncidentIdsBody, "responses": {200: "each id's outcome, in order"}}


@route("/api/incidents/bulk/acknowledge", "POST", summary="Acknowledge up to 100 incidents", **BULK)
def bulk_acknowledge(caller):
    return bulk.acknowledge(_body(payloads.IncidentIdsBody).ids, caller.actor)


@route("/api/incidents/bulk/resolve", "POST", summary="Resolve up to 100 acknowledged incidents", **BULK)
def bulk_resolve(caller):
    return bulk.resolve(_body(payloads.IncidentIdsBody).ids, caller.actor)


# --- notifications --------------------------------------------------------------------------


@route(
    "/api/notifications/channels",
    "GET",
    # Admins only: a Slack webhook URL is itself a credential to post in the channel.
    admits=MANAGE,
    summary="Notification channels (never their webhook secrets)",
    query=("service_name", "limit", "cursor"),
)
def list_channels():
    return channels.list_channels(_service(), _limit(), _query("cursor"))


@route(
    "/api/notifications/channels",
    "POST",
    admits=MANAGE,
    summary="Add a notification channel to a service; a webhook's signing secret is shown once",
    body=payloads.ChannelBody,
    status=201,
)
def create_channel(caller):
    return _created(channels.create_channel(_body(payloads.ChannelBody), caller.actor))


@route(
    "/api/notifications/channels/{channel_id}",
    "DELETE",
    admits=MANAGE,
    summary="Remove a notification channel",
    status=204,
)
def delete_channel(channel_id):
    channels.delete_channel(channel_id)
    return Response(body="", status_code=204)


@route("/api/notifications/deliver", "POST", admits=RESPOND, summary="Send owed and due notifications now")
def deliver_now():
    return delivery.run()


# Retries come due with time, not with a write: this picks them up in AWS.
@app.schedule(Rate(1, unit=Rate.MINUTES))
def notification_retries(event):
    return delivery.run()


# A transition writes the incident; its stream record wakes this within about a second.
@app.on_dynamodb_record(stream_arn=config.settings().incident_stream_arn, batch_size=100)
def notification_stream(event):
    return delivery.run()


# --- metrics -------------------------------------------------------------------------------


@route(
    "/api/metrics",
    "GET",
    admits=READ,
    summary="MTTA, MTTR and counts, overall or of one service",
    query=("service_name",),
)
def get_metrics():
    return metrics.read(_service())


@route("/api/metrics/services", "GET", admits=READ, summary="Metrics of each service", query=("limit", "cursor"))
def get_service_metrics():
    return metrics.per_service(_limit(), _query("cursor"))


# --- on-call schedules -----------------------------------------------------------------------


@route(
    "/api/oncall/schedules",
    "GET",
    admits=READ,
    summary="Shifts and overrides",
    query=("service_name", "include_ended", "limit", "cursor"),
)
def list_schedules():
    return oncall.list_shifts(_service(), http.flag(_request(), "include_ended"), _limit(), _query("cursor"))


@route(
    "/api/oncall/schedules",
    "POST",
    admits=MANAGE,
    summary="Add a shift or override",
    body=payloads.ShiftBody,
    status=201,
)
def create_schedule():
    return _created(oncall.create_shift(_body(payloads.ShiftBody)))


@route("/api/oncall/schedules/{schedule_id}", "DELETE", admits=MANAGE, summary="Remove a shift", status=204)
def delete_schedule(schedule_id):
    oncall.delete_shift(schedule_id)
    return Response(body="", status_code=204)


@route(
    "/api/oncall/current",
    "GET",
    admits=READ,
    summary="Who is on call for a service, now or at any instant",
    query=("service_name", "at"),
)
def current_oncall():
    return oncall.current(_service(required=True), http.instant_param(_request(), "at"))


@route(
    "/api/oncall/shifts",
    "GET",
    admits=READ,
    summary="The final schedule of a service as intervals, gaps marked (from defaults to now, to to 14 days later)",
    query=("service_name", "from", "to"),
)
def final_schedule():
    request = _request()
    return oncall.final_schedule(
        _service(required=True), http.instant_param(request, "from"), http.instant_param(request, "to")
    )


@route(
    "/api/oncall/shifts.ics",
    "GET",
    admits=READ,
    summary="The final schedule as iCalendar, one event per on-call interval",
    query=("service_name", "from", "to"),
    media_type="text/calendar",
)
def final_schedule_calendar():
    request = _request()
    service = _service(required=True)
    schedule = oncall.final_schedule(service, http.instant_param(request, "from"), http.instant_param(request, "to"))
    headers = {"Content-Type": ical.MEDIA_TYPE, "Content-Disposition": 'attachment; filename="oncall-schedule.ics"'}
    return Response(body=ical.schedule(service, schedule["intervals"], clock.now()), headers=headers)


@route(
    "/api/oncall/rotations",
    "GET",
    admits=READ,
    summary="Rotations (schedule layers)",
    query=("service_name", "limit", "cursor"),
)
def list_rotations():
    return rotations.list_rotations(_service(), _limit(), _query("cursor"))


@route(
    "/api/oncall/rotations",
    "POST",
    admits=MANAGE,
    summary="Add a rotation: participants taking turns, handed off at a wall-clock time in a time zone",
    body=payloads.RotationBody,
    status=201,
)
def create_rotation():
    return _created(rotations.create_rotation(_body(payloads.RotationBody)))


@route("/api/oncall/rotations/{rotation_id}", "DELETE", admits=MANAGE, summary="Remove a rotation", status=204)
def delete_rotation(rotation_id):
    rotations.delete_rotation(rotation_id)
    return Response(body="", status_code=204)


# --- escalation levels -------------------------------------------------------------------------


@route(
    "/api/escalation/levels", "GET", admits=READ, summary="Escalation levels", query=("service_name", "limit", "cursor")
)
def list_levels():
    return escalation.list_levels(_service(), _limit(), _query("cursor"))


@route(
    "/api/escalation/levels",
    "POST",
    admits=MANAGE,
    summary="Add an escalation level",
    body=payloads.LevelBody,
    status=201,
)
def create_level():
    return _created(escalation.create_level(_body(payloads.LevelBody)))


@route("/api/escalation/levels/{level_id}", "DELETE", admits=MANAGE, summary="Remove an escalation level", status=204)
def delete_level(level_id):
    escalation.delete_level(level_id)
    return Response(body="", status_code=204)


@route(
    "/api/escalation/policies/{service_name}",
    "GET",
    admits=READ,
    summary="A service's escalation policy: its levels in order and how many times the climb repeats",
)
def get_policy(service_name):
    return escalation.read_policy(http.name_in_path(service_name, "service_name"))


@route(
    "/api/escalation/policies/{service_name}",
    "PUT",
    admits=MANAGE,
    summary="Set how many times a service's escalation climb repeats after its last level",
    body=payloads.PolicyBody,
)
def set_policy(service_name):
    name = http.name_in_path(service_name, "service_name")
    return escalation.set_policy(name, _body(payloads.PolicyBody))


# --- CloudWatch alarms through SNS (docs/integrations/cloudwatch.md) -----------------------------


# Public: SNS cannot send a key. Trusted by the topic allowlist and SNS's signature instead.
@route(
    "/api/integrations/cloudwatch",
    "POST",
    admits=PUBLIC,
    summary="A CloudWatch alarm from an SNS HTTPS subscription, trusted by its SNS signature and topic, not a key",
    body=sns.SnsEnvelope,
    query=("service_name",),
    responses={200: "accepted: what the message did"},
    errors=(403, 503),
)
def cloudwatch_https():
    request = _request()
    return cloudwatch.receive_https(request.raw_body, request.headers.get(sns.MESSAGE_TYPE_HEADER), _service())


@app.on_sns_message(topic=config.settings().alarm_topic)
def cloudwatch_alarms(event):
    return cloudwatch.receive_lambda_event(event.to_dict())


# chalice's own event class raises on a record it cannot read, before the handler could skip it.
cloudwatch_alarms.event_class = sns.LenientSNSEvent


# --- Prometheus Alertmanager (docs/integrations/alertmanager.md) ---------------------------------


@route(
    "/api/integrations/alertmanager",
    "POST",
    admits=alertmanager.ADMITS,
    summary="An Alertmanager webhook notification (version 4): one incident per alert group",
    body=alertmanager.AlertmanagerNotification,
    responses={201: "the group's incident was opened", 200: "folded, resolved, or nothing to do"},
)
def alertmanager_webhook(caller):
    notification = _body(alertmanager.AlertmanagerNotification)
    outcome, created = alertmanager.receive(notification, caller)
    return _created(outcome) if created else outcome


# --- PagerDuty Events API v2 (docs/integrations/pagerduty.md) -------------------------------------

_PD_ERRORS = {
    400: ("PagerDutyError", "invalid event: malformed, or an invalid routing key (PagerDuty's shape)"),
    413: ("PagerDutyError", "the event is over 512 KB (PagerDuty's shape)"),
    429: ("PagerDutyError", "throttled: retry with backoff (PagerDuty's shape)"),
}


# Public in oncall's access model: the key is the body's routing_key, checked by the view.
@route(
    "/v2/enqueue",
    "POST",
    admits=PUBLIC,
    summary="A PagerDuty Events API v2 event; routing_key is an oncall integration key",
    body=pagerduty.Event,
    status=202,
    responses={202: "Event processed"},
    errors=(429,),
    own_errors=_PD_ERRORS,
)
def pagerduty_enqueue():
    return pagerduty.enqueue(_request().raw_body)


# --- API keys -------------------------------------------------------------------------------------


@route("/api/keys", "GET", admits=MANAGE, summary="API keys (never their tokens)", query=("limit", "cursor"))
def list_keys():
    return keys.list_page(_limit(), _query("cursor"))


@route(
    "/api/keys",
    "POST",
    admits=MANAGE,
    summary="Create an API key; the answer holds its token, shown this once",
    body=payloads.KeyBody,
    status=201,
)
def create_key(caller):
    return _created(keys.create(_body(payloads.KeyBody), caller.actor))


@route("/api/keys/{key_id}", "DELETE", admits=MANAGE, summary="Revoke an API key")
def revoke_key(key_id):
    return keys.revoke(key_id)
