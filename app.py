"""Routes and event handlers: read the request, call chalicelib, return."""

from chalice import Chalice, Rate, Response

from chalicelib import console, escalation, http, incidents, metrics, oncall, pagination, payloads

app = Chalice(app_name="oncall")
app.register_middleware(http.uniform_errors, "http")

POST_BODY = {"content_types": http.JSON_BODY_TYPES}


def route(path: str, **options):
    """app.route with every error answered as JSON (see chalicelib/http.py)."""

    def register(view):
        return app.route(path, **options)(http.json_errors(view))

    return register


def _request():
    return app.current_request


def _body(model, *, required: bool = True):
    return payloads.parse(model, _request().raw_body, required=required)


def _limit() -> int:
    return pagination.parse_limit(http.query_param(_request(), "limit"))


# --- health and console ---------------------------------------------------------


@route("/api/health", methods=["GET"])
def health():
    return {"status": "ok"}


@route("/", methods=["GET"])
def console_index():
    return console_file("index.html")


@route("/console/{name}", methods=["GET"])
def console_file(name):
    content, content_type = console.asset(name)
    return Response(body=content, headers={"Content-Type": content_type, "Cache-Control": "no-cache"})


# --- incidents --------------------------------------------------------------------


@route("/api/incidents/trigger", methods=["POST"], **POST_BODY)
def trigger_incident():
    incident, created = incidents.trigger(_body(payloads.TriggerBody))
    if created:
        return Response(body=incident, status_code=201)
    return incident


@route("/api/incidents/{incident_id}/acknowledge", methods=["PUT", "POST"], **POST_BODY)
def acknowledge_incident(incident_id):
    number = incidents.parse_id(incident_id)
    return incidents.acknowledge(number, _body(payloads.ActorBody, required=False).user)


@route("/api/incidents/{incident_id}/resolve", methods=["PUT", "POST"], **POST_BODY)
def resolve_incident(incident_id):
    number = incidents.parse_id(incident_id)
    return incidents.resolve(number, _body(payloads.ActorBody, required=False).user)


@route("/api/incidents/{incident_id}", methods=["GET"])
def get_incident(incident_id):
    return incidents.detail(incidents.parse_id(incident_id))


@route("/api/incidents/list/all", methods=["GET"])
def list_incidents():
    request = _request()
    return incidents.list_page(
        http.query_param(request, "status"),
        http.query_param(request, "service_name"),
        _limit(),
        http.query_param(request, "cursor"),
    )


@route("/api/incidents/escalate/check", methods=["POST"], **POST_BODY)
def escalate_check():
    return escalation.sweep()


@app.schedule(Rate(1, unit=Rate.MINUTES))
def escalation_sweep(event):
    return escalation.sweep()


# --- metrics ------------------------------------------------------------------------


@route("/api/metrics", methods=["GET"])
def get_metrics():
    return metrics.read(http.query_param(_request(), "service_name"))


@route("/api/metrics/services", methods=["GET"])
def get_service_metrics():
    return metrics.per_service(_limit(), http.query_param(_request(), "cursor"))


# --- on-call schedules ----------------------------------------------------------------


@route("/api/oncall/schedules", methods=["GET"])
def list_schedules():
    request = _request()
    return oncall.list_shifts(
        http.query_param(request, "service_name"),
        http.flag(request, "include_ended"),
        _limit(),
        http.query_param(request, "cursor"),
    )


@route("/api/oncall/schedules", methods=["POST"], **POST_BODY)
def create_schedule():
    return Response(body=oncall.create_shift(_body(payloads.ShiftBody)), status_code=201)


@route("/api/oncall/schedules/{schedule_id}", methods=["DELETE"])
def delete_schedule(schedule_id):
    oncall.delete_shift(schedule_id)
    return Response(body="", status_code=204)


@route("/api/oncall/current", methods=["GET"])
def current_oncall():
    return oncall.current(http.query_param(_request(), "service_name"))


# --- escalation levels -------------------------------------------------------------------


@route("/api/escalation/levels", methods=["GET"])
def list_levels():
    request = _request()
    return escalation.list_levels(
        http.query_param(request, "service_name"), _limit(), http.query_param(request, "cursor")
    )


@route("/api/escalation/levels", methods=["POST"], **POST_BODY)
def create_level():
    return Response(body=escalation.create_level(_body(payloads.LevelBody)), status_code=201)


@route("/api/escalation/levels/{level_id}", methods=["DELETE"])
def delete_level(level_id):
    escalation.delete_level(level_id)
    return Response(body="", status_code=204)
