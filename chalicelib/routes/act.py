"""The links in a page: a confirmation page on GET (mail scanners follow links, and
must change nothing), the action on POST, taken as the person paged."""

from chalicelib import clock
from chalicelib.apikey.access import PUBLIC
from chalicelib.incident import incidents, links
from chalicelib.routes import http
from chalicelib.routes.routing import Routes

routes = Routes("act")


@routes(
    "/act/{token}",
    "GET",
    admits=PUBLIC,
    summary="A link from a page: shows the incident and asks to confirm the action (changes nothing)",
    media_type="text/html",
    errors=(403,),
)
@http.html_errors
def confirm(token):
    link = links.read(token, clock.now())
    incident = incidents.get_item(link.incident_id)
    verb = link.action.capitalize()
    text = f"{incident.title} ({incident.service_name}, {incident.severity}) is {incident.status}."
    return http.html_page(f"{verb} incident #{incident.id}?", text, button=f"{verb} as {link.user}")


@routes(
    "/act/{token}",
    "POST",
    admits=PUBLIC,
    summary="Take a page link's action on its incident, as the person paged",
    media_type="text/html",
    body_required=False,
    errors=(403,),
)
@http.html_errors
def act(token):
    link = links.read(token, clock.now())
    done = links.take(link)
    return http.html_page(
        f"Incident #{done['id']} is {done['status']}", f"{done['title']}: {link.action}d as {link.user}."
    )
