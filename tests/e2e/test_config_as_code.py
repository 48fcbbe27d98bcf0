"""Configuration as code against real servers: `python -m oncall_admin export` of a
server configured through the API, applied with `python -m oncall_admin apply` into an
empty one, reproduces the export byte for byte; a second apply writes nothing; an edit
changes exactly what it edits. Two servers serve the whole module: each test first
applies the configuration it starts from (apply is declarative, so that is a reset)."""

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from oncall_admin import config
from tests.e2e.client import ADMIN_TOKEN, expect, get, post, request
from tests.e2e.conftest import PROJECT, LocalServer, launch

WRITE = re.compile(r'"(POST|PUT|PATCH|DELETE) /api/')
# A maintenance window starts at most a year ahead.
WINDOW_START = (datetime.now(timezone.utc) + timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
WINDOW = (config.iso(WINDOW_START), config.iso(WINDOW_START + timedelta(hours=2)))


class Servers:
    def __init__(self, tmp: Path, a: LocalServer, b: LocalServer) -> None:
        self.tmp, self.a, self.b = tmp, a, b

    def writes_to_b(self) -> int:
        """Write requests the API of server B has answered so far (its request log)."""
        return len(WRITE.findall(self.b.output()))


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("config-as-code")
    for name in ("a", "b"):
        (tmp / name).mkdir()
    a = launch(tmp / "a")
    try:
        b = launch(tmp / "b")
        try:
            configure(a.url)
            yield Servers(tmp, a, b)
        finally:
            b.stop()
    finally:
        a.stop()


def admin(url: str, method: str, path: str, body=None, status: int = 200):
    return expect(request(url, method, path, body), status)


def configure(url: str) -> None:
    """Every kind of object the file holds, made through the API."""
    for user in (
        {"name": "alice", "display_name": "Alice A.", "email": "alice@example.com", "time_zone": "Europe/Berlin"},
        {"name": "bob", "time_zone": "America/New_York", "quiet_hours": {"start": "22:00", "end": "07:00"}},
        {"name": "carol"},
    ):
        admin(url, "POST", "/api/users/", user, 201)
    methods = {
        "alice": [("email", "alice@example.com", "work"), ("sms", "+15555550100", None)],
        "bob": [("slack", "U024BE7LH", None), ("webhook", "http://127.0.0.1:9/bob", "pager bridge")],
        "carol": [("email", "carol@example.com", None)],
    }
    rules = {
        "alice": [(0, 0, "high"), (1, 5, "low")],
        "bob": [(0, 0, "high"), (1, 2, "high")],
        "carol": [(0, 1, "low")],
    }
    for user, listed in methods.items():
        ids = []
        for kind, address, label in listed:
            body = {"kind": kind, "address": address, **({"label": label} if label else {})}
            ids.append(admin(url, "POST", f"/api/users/{user}/contact-methods/", body, 201)["id"])
        for index, delay, urgency in rules[user]:
            rule = {"contact_method_id": ids[index], "delay_minutes": delay, "urgency": urgency}
            admin(url, "POST", f"/api/users/{user}/notification-rules/", rule, 201)
    for user, start, end, override in (
        ("alice", "2030-01-01T08:00:00Z", "2030-01-02T08:00:00Z", False),
        ("bob", "2030-01-02T08:00:00Z", "2030-01-03T08:00:00.250Z", False),
        ("carol", "2030-01-01T12:00:00Z", "2030-01-01T14:00:00Z", True),
    ):
        shift = {
            "service_name": "payments",
            "user": user,
            "start_time": start,
            "end_time": end,
            "is_override": override,
        }
        admin(url, "POST", "/api/oncall/schedules/", shift, 201)
    rotation = {
        "service_name": "search",
        "name": "daytime",
        "layer": 2,
        "participants": ["bob", "carol"],
        "shift_length": 1,
        "shift_unit": "weeks",
        "handoff_time": "09:00",
        "handoff_weekday": "monday",
        "time_zone": "Europe/Berlin",
        "start_date": "2026-01-05",
        "restrictions": [
            {"weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"], "start": "09:00", "end": "17:00"}
        ],
    }
    admin(url, "POST", "/api/oncall/rotations/", rotation, 201)
    for level in (
        {"service_name": "payments", "level": 1, "user": "alice", "wait_minutes": 5},
        {
            "service_name": "payments",
            "level": 2,
            "targets": [{"user": "bob"}, {"oncall": "search"}],
            "wait_minutes": 10,
        },
        {"service_name": "search", "level": 1, "targets": [{"oncall": "search"}], "notification_channel": "slack"},
    ):
        admin(url, "POST", "/api/escalation/levels/", level, 201)
    admin(url, "PUT", "/api/escalation/policies/payments/", {"repeat": 2})
    for channel in (
        {"service_name": "payments", "kind": "slack", "name": "#payments", "url": "http://127.0.0.1:9/slack"},
        {"service_name": "payments", "kind": "webhook", "name": "ops bridge", "url": "http://127.0.0.1:9/ops"},
        {
            "service_name": "search",
            "kind": "sns",
            "name": "pages",
            "topic_arn": "arn:aws:sns:us-east-1:123456789012:pages",
        },
    ):
        admin(url, "POST", "/api/notifications/channels/", channel, 201)
    beat = {"service_name": "search", "name": "nightly-backup", "interval_seconds": 86400, "grace_seconds": 600}
    admin(url, "POST", "/api/heartbeats/", beat, 201)
    window = {"service_name": "payments", "start": WINDOW[0], "end": WINDOW[1]}
    admin(url, "POST", "/api/maintenance/", {**window, "reason": "database upgrade"}, 201)


def oncall_admin(*args: str, key_on_command_line: bool = False) -> subprocess.CompletedProcess:
    """The CLI as a user runs it; the key from ONCALL_KEY unless told otherwise."""
    env = {**os.environ, "ONCALL_KEY": ADMIN_TOKEN}
    env.pop("ONCALL_URL", None)
    if key_on_command_line:
        env.pop("ONCALL_KEY")
        args = (*args, "--key", ADMIN_TOKEN)
    return subprocess.run(
        [sys.executable, "-m", "oncall_admin", *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120
    )


def export(url: str) -> str:
    done = oncall_admin("export", "--url", url)
    assert done.returncode == 0, done.stderr
    return done.stdout


def apply(servers: Servers, text: str, *options: str, expect_code: int = 0) -> str:
    path = servers.tmp / "oncall.yaml"
    path.write_text(text, encoding="utf-8")
    done = oncall_admin("apply", str(path), "--url", servers.b.url, *options)
    assert done.returncode == expect_code, (done.stdout, done.stderr)
    return done.stdout


@pytest.fixture(scope="module")
def exported(servers) -> str:
    return export(servers.a.url)


def test_the_export_holds_every_kind_without_ids_or_secrets(servers, exported):
    assert exported == export(servers.a.url)
    document = yaml.safe_load(exported)
    users = {user["name"]: user for user in document["users"]}
    assert users["bob"]["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert users["bob"]["contact_methods"] == [
        {"kind": "slack", "address": "U024BE7LH"},
        {"kind": "webhook", "address": "http://127.0.0.1:9/bob", "label": "pager bridge"},
    ]
    assert users["bob"]["notification_rules"][1] == {
        "contact_method": "webhook:http://127.0.0.1:9/bob",
        "delay_minutes": 2,
        "urgency": "high",
    }
    services = {service["name"]: service for service in document["services"]}
    payments = services["payments"]
    assert payments["escalation"]["repeat"] == 2
    assert payments["escalation"]["levels"][1] == {
        "level": 2,
        "targets": [{"user": "bob"}, {"oncall": "search"}],
        "wait_minutes": 10,
    }
    assert payments["overrides"] == [
        {"user": "carol", "start": "2030-01-01T12:00:00.000Z", "end": "2030-01-01T14:00:00.000Z"}
    ]
    assert [shift["user"] for shift in payments["shifts"]] == ["alice", "bob"]
    assert services["search"]["rotations"][0]["restrictions"][0]["end"] == "17:00"
    assert {"name": "ops bridge", "kind": "webhook", "url": "http://127.0.0.1:9/ops"} in payments["channels"]
    assert services["search"]["heartbeats"] == [
        {"name": "nightly-backup", "interval_seconds": 86400, "grace_seconds": 600}
    ]
    assert payments["maintenance"] == [{"start": WINDOW[0], "end": WINDOW[1], "reason": "database upgrade"}]
    assert not re.search(r"\b[0-9a-f]{32}\b", exported), "a server id was exported"
    assert "whsec_" not in exported and "created_at" not in exported


def test_apply_without_yes_prints_the_plan_and_writes_nothing(servers, exported):
    apply(servers, "version: 1\n", "--yes")  # B starts empty
    before = servers.writes_to_b()
    printed = apply(servers, exported)
    assert printed.startswith("+ user alice\n"), printed
    assert "+ escalation repeat of payments (repeat 0 -> 2)\n" in printed
    assert "Nothing was written: run again with --yes to apply." in printed
    assert servers.writes_to_b() == before
    assert export(servers.b.url) == config.HEADER + "version: 1\n"


def test_apply_into_an_empty_server_reproduces_the_export_and_a_second_apply_changes_nothing(servers, exported):
    apply(servers, "version: 1\n", "--yes")
    made = apply(servers, exported, "--yes")
    assert "0 not applied" in made, made
    assert export(servers.b.url) == exported
    before = servers.writes_to_b()
    again = apply(servers, exported, "--yes")
    assert again == "Plan: no changes.\n"
    assert servers.writes_to_b() == before
    assert export(servers.b.url) == exported


def test_an_edit_shows_exactly_its_changes_and_applying_it_makes_the_export_equal_the_file(servers, exported):
    apply(servers, exported, "--yes")
    document = yaml.safe_load(exported)
    payments = next(service for service in document["services"] if service["name"] == "payments")
    payments["escalation"]["levels"][1]["wait_minutes"] = 20
    dropped = payments["shifts"].pop(0)
    document["users"].append(
        {
            "name": "dave",
            "display_name": "Dave D.",
            "contact_methods": [{"kind": "email", "address": "dave@example.com"}],
        }
    )
    edited = yaml.safe_dump(document, sort_keys=False)
    shift = f"shift payments {dropped['user']} {dropped['start']} to {dropped['end']}"
    plan = apply(servers, edited)
    assert plan.splitlines() == [
        "+ user dave",
        "+ contact method dave email:dave@example.com",
        "~ escalation level payments 2 (replaced: delete, then create)",
        "    wait_minutes: 10 -> 20",
        f"- {shift}",
        "Plan: 2 to create, 1 to change, 1 to delete.",
        "Nothing was written: run again with --yes to apply.",
    ]
    done = oncall_admin(
        "apply", str(servers.tmp / "oncall.yaml"), "--url", servers.b.url, "--yes", key_on_command_line=True
    )
    assert done.returncode == 0, done.stdout
    after = export(servers.b.url)
    assert after == config.dump(config.load(edited)[0])
    assert "dave@example.com" in after and "wait_minutes: 20" in after and dropped["start"] not in after
    level = expect(get(servers.b.url, "/api/escalation/policies/payments"))["levels"][1]
    assert (level["level"], level["wait_minutes"], level["targets"]) == (2, 20, [{"user": "bob"}, {"oncall": "search"}])


def test_no_delete_keeps_what_the_file_leaves_out(servers, exported):
    apply(servers, exported, "--yes")
    before = servers.writes_to_b()
    printed = apply(servers, "version: 1\n", "--yes", "--no-delete")
    assert printed.startswith("Plan: no changes; "), printed
    assert servers.writes_to_b() == before
    assert export(servers.b.url) == exported


def test_an_invalid_file_is_refused_naming_the_path_and_nothing_is_written(servers, exported):
    before = servers.writes_to_b()
    broken = exported.replace("      wait_minutes: 10\n", "      wait_minutes: 10\n      waits: 3\n").replace(
        "delay_minutes: 5,", "delay_minutes: soon,"
    )
    path = servers.tmp / "broken.yaml"
    path.write_text(broken, encoding="utf-8")
    done = oncall_admin("apply", str(path), "--url", servers.b.url, "--yes")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: {path}: users[0].notification_rules[1].delay_minutes: must be a whole number from 0 to 60, got 'soon'",
        f"error: {path}: services[0].escalation.levels[1].waits: unknown key (allowed here: level, wait_minutes, "
        "targets, notification_channel)",
        "Nothing was written.",
    ]
    assert done.stdout == ""
    assert servers.writes_to_b() == before


def test_what_the_api_refuses_is_reported_with_its_sentence_and_the_rest_is_applied(servers, exported):
    apply(servers, exported, "--yes")
    document = yaml.safe_load(exported)
    document["users"].append(
        {
            "name": "erin",
            "time_zone": "Mars/Olympus",
            "contact_methods": [{"kind": "email", "address": "erin@example.com"}],
        }
    )
    document["users"].append({"name": "frank"})
    payments = next(service for service in document["services"] if service["name"] == "payments")
    ops = next(channel for channel in payments["channels"] if channel["kind"] == "webhook")
    ops["url"] = "http://127.0.0.1:9/ops-v2"
    # The file allows any length; the API refuses over 128 characters, after the old level is gone.
    payments["escalation"]["levels"][0]["notification_channel"] = "c" * 129
    printed = apply(servers, yaml.safe_dump(document, sort_keys=False), "--yes", expect_code=1)
    assert (
        "FAILED + user erin: refused: time_zone: must be an IANA time zone such as Europe/Berlin. (HTTP 400); "
        "nothing was written" in printed
    ), printed
    assert "FAILED + contact method erin email:erin@example.com: not tried: user erin could not be made" in printed
    assert "NOT APPLIED ! channel payments/ops bridge -- the API cannot change it in place" in printed
    assert "done   + user frank" in printed
    assert (
        "FAILED ~ escalation level payments 1 (replaced: delete, then create): refused: notification_channel: "
        "String should have at most 128 characters. (HTTP 400); the old one, deleted first, was made again as it was"
    ) in printed
    assert "Applied 1 of 5; 4 not applied." in printed
    after = export(servers.b.url)
    users = [user["name"] for user in yaml.safe_load(after)["users"]]
    assert "frank" in users and "erin" not in users
    assert after.replace("- {name: frank}\n", "") == exported
    # The webhook channel is the one it was: its secret still signs for its receiver.
    channels = expect(get(servers.b.url, "/api/notifications/channels/?service_name=payments"))["channels"]
    assert [c["url"] for c in channels if c["kind"] == "webhook"] == ["http://127.0.0.1:9/ops"]


def test_a_heartbeat_changes_in_place_and_its_ping_url_keeps_working(servers, exported):
    apply(servers, "version: 1\n", "--yes")
    made = apply(servers, exported, "--yes")
    ping_url = re.search(r"ping_url \(shown once\): (\S+)", made).group(1)
    assert expect(post(servers.b.url, ping_url.split(servers.b.url, 1)[1], token=None))["status"] == "up"
    longer = exported.replace("interval_seconds: 86400", "interval_seconds: 3600")
    printed = apply(servers, longer, "--yes")
    assert "done   ~ heartbeat search/nightly-backup\n    interval_seconds: 86400 -> 3600" in printed, printed
    assert "Applied 1 of 1" in printed
    assert expect(get(servers.b.url, ping_url.split(servers.b.url, 1)[1], token=None))["status"] == "up"
    assert "interval_seconds: 3600" in export(servers.b.url)


def test_a_contact_method_is_replaced_with_its_rules_and_nothing_else_moves(servers, exported):
    apply(servers, exported, "--yes")
    relabelled = exported.replace(
        "{kind: email, address: alice@example.com, label: work}",
        "{kind: email, address: alice@example.com, label: home}",
    )
    printed = apply(servers, relabelled, "--yes")
    assert printed.splitlines() == [
        "Plan: 0 to create, 1 to change, 0 to delete.",
        "done   ~ contact method alice email:alice@example.com (replaced: create, then delete)",
        "    label: work -> home",
        "Applied 1 of 1; 0 not applied.",
    ]
    assert export(servers.b.url) == relabelled
    methods = expect(get(servers.b.url, "/api/users/alice/contact-methods/"))["contact_methods"]
    rules = expect(get(servers.b.url, "/api/users/alice/notification-rules/"))["notification_rules"]
    email = next(method for method in methods if method["kind"] == "email")
    assert (len(methods), email["label"]) == (2, "home")
    assert [(r["contact_method_id"], r["delay_minutes"]) for r in rules if r["urgency"] == "high"] == [(email["id"], 0)]
