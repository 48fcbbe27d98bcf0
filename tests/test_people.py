"""Users, contact methods (SMS numbers verified by a code) and notification rules:
validation, caps held by conditions, deletes that take dependants along, and the
self-service limits of a responder key."""

import pytest

from chalicelib.models import ContactMethod, NotificationRule
from chalicelib.people import contact_methods
from tests.flows import get_json, post, put, run_threads
from tests.messages import code_sent_to, sent_sms

NUMBER = "+14155550100"


def add_user(client, name="alice", **fields):
    response = post(client, "/api/users/", {"name": name, **fields})
    assert response.status_code == 201, response.body
    return response.json_body


def add_method(client, user="alice", kind="email", address="alice@example.com", **fields):
    return post(client, f"/api/users/{user}/contact-methods/", {"kind": kind, "address": address, **fields})


def method_ok(client, user="alice", kind="email", address="alice@example.com") -> dict:
    response = add_method(client, user, kind, address)
    assert response.status_code == 201, response.body
    return response.json_body


def add_rule(client, user, method_id, delay=0, urgency="high"):
    body = {"contact_method_id": method_id, "delay_minutes": delay, "urgency": urgency}
    return post(client, f"/api/users/{user}/notification-rules/", body)


def verify(client, method, code, user="alice"):
    return post(client, f"/api/users/{user}/contact-methods/{method['id']}/verify", {"code": code})


# --- users ---------------------------------------------------------------------------------


def test_a_user_is_created_read_changed_listed_and_deleted(client):
    made = add_user(client, "alice", display_name="Alice A.", time_zone="Europe/Berlin")
    assert made == {
        "name": "alice",
        "display_name": "Alice A.",
        "email": None,
        "time_zone": "Europe/Berlin",
        "quiet_hours": None,
        "created_at": made["created_at"],
    }
    assert post(client, "/api/users/", {"name": "alice"}).status_code == 409
    changed = put(client, "/api/users/alice", {"quiet_hours": {"start": "22:00", "end": "07:00"}, "display_name": None})
    assert changed.status_code == 200, changed.body
    assert changed.json_body["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert changed.json_body["display_name"] is None and changed.json_body["time_zone"] == "Europe/Berlin"
    add_user(client, "bob")
    assert [user["name"] for user in get_json(client, "/api/users/")["users"]] == ["alice", "bob"]
    assert client.http.delete("/api/users/alice").status_code == 204
    assert client.http.get("/api/users/alice").status_code == 404
    assert put(client, "/api/users/alice", {"display_name": "x"}).status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": ""}, "name"),
        ({"name": "alice", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"name": "alice", "email": "not-an-address"}, "email"),
        ({"name": "alice", "quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours.start"),
        ({"name": "alice", "role": "admin"}, "role"),
    ],
)
def test_an_invalid_user_is_a_400_naming_the_field(client, body, field):
    response = post(client, "/api/users/", body)
    assert response.status_code == 400, response.body
    assert response.json_body["field"] == field
    assert client.http.get("/api/users/alice").status_code == 404


# --- contact methods ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, address, field",
    [
        ("sms", "4155550100", "address"),
        ("email", "alice", "address"),
        ("slack", "alice", "address"),
        ("webhook", "ftp://example.com", "address"),
        ("pigeon", "loft 3", "kind"),
    ],
)
def test_an_invalid_contact_method_is_a_400_naming_the_field(client, kind, address, field):
    add_user(client)
    response = add_method(client, kind=kind, address=address)
    assert response.status_code == 400, response.body
    assert response.json_body["field"] == field
    assert list(ContactMethod.query("alice")) == []


def test_an_sms_number_is_unverified_until_its_code_comes_back(client):
    add_user(client)
    method = method_ok(client, kind="sms", address=NUMBER)
    assert method["state"] == "unverified"
    assert "...0100" in method["verification"]
    code = code_sent_to(NUMBER)
    assert len(code) == 6 and code.isdigit()
    assert ContactMethod.get("alice", method["id"]).code_hash != code  # stored hashed

    wrong = "000000" if code != "000000" else "111111"
    refused = verify(client, method, wrong)
    assert refused.status_code == 400 and refused.json_body["field"] == "code"
    assert "4 attempts left" in refused.json_body["error"]
    answer = verify(client, method, code)
    assert answer.status_code == 200, answer.body
    assert answer.json_body["state"] == "active" and "verification" not in answer.json_body
    assert verify(client, method, code).status_code == 200  # a retry of a success is one
    listed = get_json(client, "/api/users/alice/contact-methods/")["contact_methods"]
    assert [(m["kind"], m["state"]) for m in listed] == [("sms", "active")]


def test_five_wrong_codes_lock_the_number_even_when_guessed_at_once(client):
    add_user(client)
    method = method_ok(client, kind="sms", address=NUMBER)
    code = code_sent_to(NUMBER)
    wrong = [f"{n:06d}" for n in range(20) if f"{n:06d}" != code][:12]
    results, errors = run_threads([lambda guess=guess: verify(client, method, guess) for guess in wrong])
    assert errors == [None] * len(wrong)
    assert sorted(r.status_code for r in results) == [400] * 4 + [409] * 8
    assert ContactMethod.get("alice", method["id"]).code_attempts == 5
    assert verify(client, method, code).status_code == 409  # the right code is too late


def test_an_expired_code_is_refused(client, manual_clock):
    add_user(client)
    method = method_ok(client, kind="sms", address=NUMBER)
    manual_clock.advance(seconds=contact_methods.CODE_LIFETIME.total_seconds() + 1)
    refused = verify(client, method, code_sent_to(NUMBER))
    assert refused.status_code == 409 and "expired" in refused.json_body["error"]


def test_email_and_slack_methods_are_active_at_once_and_a_user_has_at_most_ten(client):
    add_user(client)
    assert method_ok(client)["state"] == "active"
    assert method_ok(client, kind="slack", address="U024BE7LH")["state"] == "active"
    for n in range(8):
        method_ok(client, address=f"alice+{n}@example.com")
    refused = add_method(client, address="one.more@example.com")
    assert refused.status_code == 409 and "10 contact methods" in refused.json_body["error"]
    assert sent_sms() == []


def test_a_method_for_a_user_who_does_not_exist_is_a_404(client):
    assert add_method(client, user="nobody").status_code == 404
    assert list(ContactMethod.query("nobody")) == []


# --- rules ---------------------------------------------------------------------------------


def test_rules_page_through_the_users_own_methods_and_go_with_them(client):
    add_user(client)
    add_user(client, "bob")
    email = method_ok(client)
    bobs = method_ok(client, "bob", address="bob@example.com")
    made = add_rule(client, "alice", email["id"], delay=5, urgency="low")
    assert made.status_code == 201, made.body
    assert (made.json_body["delay_minutes"], made.json_body["urgency"]) == (5, "low")
    # Another user's method is not one of alice's.
    assert add_rule(client, "alice", bobs["id"]).status_code == 404
    assert add_rule(client, "alice", email["id"], delay=61).json_body["field"] == "delay_minutes"
    add_rule(client, "alice", email["id"], delay=0)
    assert len(get_json(client, "/api/users/alice/notification-rules/")["notification_rules"]) == 2

    assert client.http.delete(f"/api/users/alice/contact-methods/{email['id']}").status_code == 204
    assert list(NotificationRule.query("alice")) == []
    assert get_json(client, "/api/users/alice")["name"] == "alice"


def test_a_rule_added_while_its_method_is_deleted_is_never_left_pointing_nowhere(client):
    add_user(client)
    email = method_ok(client)
    results, errors = run_threads(
        [
            lambda: add_rule(client, "alice", email["id"]),
            lambda: client.http.delete(f"/api/users/alice/contact-methods/{email['id']}"),
        ]
    )
    assert errors == [None, None]
    methods = {m.id for m in ContactMethod.query("alice")}
    assert all(rule.contact_method_id in methods for rule in NotificationRule.query("alice"))


def test_deleting_a_user_deletes_their_methods_and_rules(client):
    add_user(client)
    email = method_ok(client)
    add_rule(client, "alice", email["id"])
    assert client.http.delete("/api/users/alice").status_code == 204
    assert list(ContactMethod.query("alice")) == [] and list(NotificationRule.query("alice")) == []
    assert client.http.delete("/api/users/alice").status_code == 404


# --- who may change what ----------------------------------------------------------------


def test_a_responder_changes_only_its_own_users_methods_and_rules(client):
    add_user(client)
    add_user(client, "bob")
    bobs = method_ok(client, "bob", address="bob@example.com")
    alice = client.as_user("alice")

    own = method_ok(alice)
    assert add_rule(alice, "alice", own["id"]).status_code == 201
    assert put(alice, "/api/users/alice", {"time_zone": "America/New_York"}).status_code == 200
    assert get_json(alice, "/api/users/bob")["name"] == "bob"  # every user may be read

    for response in (
        add_method(alice, "bob", address="x@example.com"),
        add_rule(alice, "bob", bobs["id"]),
        put(alice, "/api/users/bob", {"time_zone": "America/New_York"}),
        alice.http.get("/api/users/bob/contact-methods/"),
        alice.http.delete(f"/api/users/bob/contact-methods/{bobs['id']}"),
        post(alice, "/api/users/", {"name": "carol"}),
        alice.http.delete("/api/users/bob"),
    ):
        assert response.status_code == 403, response.body
    assert [m.id for m in ContactMethod.query("bob")] == [bobs["id"]]
    assert client.http.get("/api/users/carol").status_code == 404
