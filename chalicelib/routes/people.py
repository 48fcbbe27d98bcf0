"""Users, their contact methods and their notification rules. A responder key acting
as a user may read every user and change that user's own methods and rules."""

from chalicelib import db
from chalicelib.api import payloads, responses
from chalicelib.apikey.access import MANAGE, READ, RESPOND
from chalicelib.errors import InvalidInput
from chalicelib.people import contact_methods, rules, users
from chalicelib.routes import http
from chalicelib.routes.routing import Routes
from chalicelib.schedule import feeds

routes = Routes("people")


def _user(name: str) -> str:
    return http.name_in_path(name, "name")


def _id(raw: str, noun: str) -> str:
    if not db.PUBLIC_ID.fullmatch(raw):
        raise InvalidInput(f"A {noun} id is 32 hexadecimal characters, got {raw[:40]!r}.", field="id")
    return raw


def _own(caller, name: str) -> str:
    """The user named in the path, if the caller may change their settings."""
    user = _user(name)
    caller.require_self(user)
    return user


@routes(
    "/api/users", "GET", admits=READ, summary="Users, by name", query=("limit", "cursor"), answer=responses.UserPage
)
def list_users():
    return users.list_page(routes.limit(), routes.query("cursor"))


@routes(
    "/api/users",
    "POST",
    admits=MANAGE,
    summary="Add a user: the name schedules, rotations, escalation levels and keys use",
    body=payloads.UserBody,
    status=201,
    answer=responses.User,
)
def create_user(caller):
    return routes.created(users.create(routes.body(payloads.UserBody), caller.actor))


@routes("/api/users/{name}", "GET", admits=READ, summary="A user", answer=responses.User)
def get_user(name):
    return users.read(_user(name))


@routes(
    "/api/users/{name}",
    "PUT",
    admits=RESPOND,
    summary="Change a user's display name, email, time zone or quiet hours (admins, or the user)",
    body=payloads.UserChange,
    answer=responses.User,
)
def change_user(caller, name):
    return users.change(_own(caller, name), routes.body(payloads.UserChange))


@routes(
    "/api/users/{name}",
    "DELETE",
    admits=MANAGE,
    summary="Remove a user with their contact methods, rules and calendar feeds",
    status=204,
)
def delete_user(name):
    user = users.get(_user(name)).name
    # The feeds first: a person's calendar URLs must not outlive them, even if the rest fails.
    feeds.revoke_all(user)
    users.delete(user)
    return routes.no_content()


@routes(
    "/api/users/{name}/contact-methods",
    "GET",
    admits=READ,
    summary="A user's contact methods (admins, or the user)",
    query=("limit", "cursor"),
    answer=responses.ContactMethodPage,
)
def list_contact_methods(caller, name):
    return contact_methods.list_page(_own(caller, name), routes.limit(), routes.query("cursor"))


@routes(
    "/api/users/{name}/contact-methods",
    "POST",
    admits=RESPOND,
    summary="Add a contact method; an SMS number gets a code to verify it with (admins, or the user)",
    body=payloads.ContactMethodBody,
    status=201,
    answer=responses.NewContactMethod,
)
def create_contact_method(caller, name):
    return routes.created(contact_methods.create(_own(caller, name), routes.body(payloads.ContactMethodBody)))


@routes(
    "/api/users/{name}/contact-methods/{method_id}",
    "DELETE",
    admits=RESPOND,
    summary="Remove a contact method and the rules that use it (admins, or the user)",
    status=204,
)
def delete_contact_method(caller, name, method_id):
    contact_methods.delete(_own(caller, name), _id(method_id, "contact method"))
    return routes.no_content()


@routes(
    "/api/users/{name}/contact-methods/{method_id}/verify",
    "POST",
    admits=RESPOND,
    summary="Enable an SMS number with the code sent to it (admins, or the user)",
    body=payloads.VerifyBody,
    answer=responses.ContactMethod,
)
def verify_contact_method(caller, name, method_id):
    return contact_methods.verify(
        _own(caller, name), _id(method_id, "contact method"), routes.body(payloads.VerifyBody).code
    )


@routes(
    "/api/users/{name}/notification-rules",
    "GET",
    admits=READ,
    summary="A user's notification rules (admins, or the user)",
    query=("limit", "cursor"),
    answer=responses.NotificationRulePage,
)
def list_notification_rules(caller, name):
    return rules.list_page(_own(caller, name), routes.limit(), routes.query("cursor"))


@routes(
    "/api/users/{name}/notification-rules",
    "POST",
    admits=RESPOND,
    summary="Page the user through a contact method, a delay after an incident of an urgency becomes theirs",
    body=payloads.NotificationRuleBody,
    status=201,
    answer=responses.NotificationRule,
)
def create_notification_rule(caller, name):
    return routes.created(rules.create(_own(caller, name), routes.body(payloads.NotificationRuleBody)))


@routes(
    "/api/users/{name}/notification-rules/{rule_id}",
    "DELETE",
    admits=RESPOND,
    summary="Remove a notification rule (admins, or the user)",
    status=204,
)
def delete_notification_rule(caller, name, rule_id):
    rules.delete(_own(caller, name), _id(rule_id, "notification rule"))
    return routes.no_content()


@routes(
    "/api/users/{name}/calendar-feeds",
    "GET",
    admits=READ,
    summary="A user's calendar feeds (admins, or the user), without their secret URLs",
    answer=responses.CalendarFeedList,
)
def list_calendar_feeds(caller, name):
    return feeds.list_for(_own(caller, name))


@routes(
    "/api/users/{name}/calendar-feeds",
    "POST",
    admits=RESPOND,
    summary="A secret calendar URL (admins, or the user): a service's final schedule, or the user's own turns on "
    "call; the URL is shown once and needs no key",
    body=payloads.CalendarFeedBody,
    status=201,
    answer=responses.NewCalendarFeed,
)
def create_calendar_feed(caller, name):
    user = _own(caller, name)
    return routes.created(feeds.create(user, routes.body(payloads.CalendarFeedBody), routes.base_url()))


@routes(
    "/api/users/{name}/calendar-feeds/{feed_id}",
    "DELETE",
    admits=RESPOND,
    summary="Revoke a calendar feed: its URL stops working at once (admins, or the user)",
    status=204,
)
def revoke_calendar_feed(caller, name, feed_id):
    feeds.revoke(_own(caller, name), _id(feed_id, "calendar feed"))
    return routes.no_content()
