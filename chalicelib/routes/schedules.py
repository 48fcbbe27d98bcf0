"""On-call schedules: shifts, overrides, rotations and the final schedule."""

from chalice import Response

from chalicelib import clock
from chalicelib.api import payloads, responses
from chalicelib.apikey.access import MANAGE, PUBLIC, READ
from chalicelib.routes import http
from chalicelib.routes.routing import Routes
from chalicelib.schedule import feeds, ical, oncall, rotations

routes = Routes("schedules")


@routes(
    "/api/oncall/schedules",
    "GET",
    admits=READ,
    summary="Shifts and overrides",
    query=("service_name", "include_ended", "limit", "cursor"),
    answer=responses.ShiftPage,
)
def list_schedules():
    return oncall.list_shifts(
        routes.service(), http.flag(routes.request(), "include_ended"), routes.limit(), routes.query("cursor")
    )


@routes(
    "/api/oncall/schedules",
    "POST",
    admits=MANAGE,
    summary="Add a shift or override",
    body=payloads.ShiftBody,
    status=201,
    answer=responses.Shift,
)
def create_schedule():
    return routes.created(oncall.create_shift(routes.body(payloads.ShiftBody)))


@routes("/api/oncall/schedules/{schedule_id}", "DELETE", admits=MANAGE, summary="Remove a shift", status=204)
def delete_schedule(schedule_id):
    oncall.delete_shift(schedule_id)
    return routes.no_content()


@routes(
    "/api/oncall/current",
    "GET",
    admits=READ,
    summary="Who is on call for a service, now or at any instant",
    query=("service_name", "at"),
    answer=responses.OnCall,
)
def current_oncall():
    return oncall.current(routes.service(required=True), routes.instant("at"))


@routes(
    "/api/oncall/shifts",
    "GET",
    admits=READ,
    summary="The final schedule of a service as intervals, gaps marked (from defaults to now, to to 14 days later)",
    query=("service_name", "from", "to"),
    answer=responses.FinalSchedule,
)
def final_schedule():
    return _requested_schedule()


def _requested_schedule() -> dict:
    return oncall.final_schedule(routes.service(required=True), routes.instant("from"), routes.instant("to"))


@routes(
    "/calendar/{token}",
    "GET",
    admits=PUBLIC,
    summary="A calendar feed's iCalendar (the secret token in the path is the credential; "
    "made with POST /api/users/{name}/calendar-feeds)",
    media_type="text/calendar",
)
def calendar_feed(token):
    headers = {"Content-Type": ical.MEDIA_TYPE, "Cache-Control": "private, max-age=300"}
    return Response(body=feeds.calendar(token), headers=headers)


@routes(
    "/api/oncall/shifts.ics",
    "GET",
    admits=READ,
    summary="The final schedule as iCalendar, one event per on-call interval",
    query=("service_name", "from", "to"),
    media_type="text/calendar",
)
def final_schedule_calendar():
    schedule = _requested_schedule()
    headers = {"Content-Type": ical.MEDIA_TYPE, "Content-Disposition": 'attachment; filename="oncall-schedule.ics"'}
    return Response(body=ical.schedule(schedule["service_name"], schedule["intervals"], clock.now()), headers=headers)


@routes(
    "/api/oncall/rotations",
    "GET",
    admits=READ,
    summary="Rotations (schedule layers)",
    query=("service_name", "limit", "cursor"),
    answer=responses.RotationPage,
)
def list_rotations():
    return rotations.list_rotations(routes.service(), routes.limit(), routes.query("cursor"))


@routes(
    "/api/oncall/rotations",
    "POST",
    admits=MANAGE,
    summary="Add a rotation: participants taking turns, handed off at a wall-clock time in a time zone",
    body=payloads.RotationBody,
    status=201,
    answer=responses.Rotation,
)
def create_rotation():
    return routes.created(rotations.create_rotation(routes.body(payloads.RotationBody)))


@routes("/api/oncall/rotations/{rotation_id}", "DELETE", admits=MANAGE, summary="Remove a rotation", status=204)
def delete_rotation(rotation_id):
    rotations.delete_rotation(rotation_id)
    return routes.no_content()
