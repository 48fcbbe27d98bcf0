"""The configuration document of `python -m oncall_admin export/apply` without a server:
its canonical form, what it refuses, the diff and how apply plans each kind of change.
The round trip through real servers is tests/e2e/test_config_as_code.py."""

import random
from datetime import datetime, timezone

import pytest

from oncall_admin import apply, config
from oncall_admin.config import CHANNEL, HEARTBEAT, LEVEL, METHOD, POLICY, RULE, SHIFT, USER, Configuration
from oncall_admin.export import Snapshot


@pytest.fixture(autouse=True)
def tables():
    """Nothing here touches DynamoDB."""
    yield


DOCUMENT = """
version: 1
users:
- name: bob
  contact_methods:
  - {kind: webhook, address: 'https://hooks.example.com/bob'}
  - {kind: email, address: bob@example.com, label: work}
  notification_rules:
  - {contact_method: 'webhook:https://hooks.example.com/bob', delay_minutes: 5, urgency: low}
  - {contact_method: 'email:bob@example.com', delay_minutes: 0, urgency: high}
- name: alice
  time_zone: Europe/Berlin
  quiet_hours: {start: '22:00', end: '07:00'}
services:
- name: search
  heartbeats:
  - {name: backup, interval_seconds: 3600, grace_seconds: 300}
- name: payments
  escalation:
    repeat: 2
    levels:
    - {level: 2, targets: [{user: bob}, {oncall: search}], wait_minutes: 10}
    - {level: 1, targets: [{user: alice}], wait_minutes: 5, notification_channel: slack}
  shifts:
  - {user: bob, start: 2030-01-02T09:00:00+01:00, end: '2030-01-03T08:00:00Z'}
  - {user: alice, start: '2030-01-01T08:00:00Z', end: '2030-01-02T08:00:00Z'}
  overrides:
  - {user: bob, start: '2030-01-01T12:00:00Z', end: '2030-01-01T13:00:00Z'}
  channels:
  - {name: ops, kind: webhook, url: 'https://hooks.example.com/ops'}
  maintenance:
  - {start: '2030-02-01T00:00:00Z', end: '2030-02-01T02:00:00Z', reason: database upgrade}
"""


def loaded(text: str = DOCUMENT) -> Configuration:
    return config.load(text)[0]


def test_the_canonical_form_sorts_by_service_then_natural_key_and_normalizes_times():
    text = config.dump(loaded())
    assert text.index("- name: alice") < text.index("- name: bob")
    assert text.index("- name: payments") < text.index("- name: search")
    assert text.index("level: 1") < text.index("level: 2")
    assert text.index("email:bob@example.com") < text.index("webhook:https://hooks.example.com/bob")
    # +01:00 and Z alike become UTC with milliseconds; the earlier shift comes first.
    assert text.index("2030-01-01T08:00:00.000Z") < text.index("2030-01-02T08:00:00.000Z")
    # Defaults are left out (a level's "log" channel), the others kept.
    assert text.count("notification_channel") == 1
    assert config.dump(loaded(text)) == text


def test_the_same_configuration_dumps_the_same_bytes_whatever_order_it_was_built_in():
    original = loaded()
    items = [(kind, item) for kind in config.KINDS for item in original.of(kind).values()]
    for seed in range(5):
        random.Random(seed).shuffle(items)
        rebuilt = Configuration()
        for kind, item in items:
            rebuilt.add(kind, item)
        assert config.dump(rebuilt) == config.dump(original)


@pytest.mark.parametrize(
    ("edit", "path", "says"),
    [
        ("  nickname: al\n", "users[1].nickname", "unknown key"),
        ("  display_name: 12\n", "users[1].display_name", "must be a non-empty string, got a number"),
    ],
)
def test_a_wrong_user_field_is_refused_naming_its_path(edit, path, says):
    text = DOCUMENT.replace("  time_zone: Europe/Berlin\n", "  time_zone: Europe/Berlin\n" + edit)
    with pytest.raises(config.FileProblems) as refused:
        config.load(text, "oncall.yaml")
    (problem,) = refused.value.problems
    assert problem.startswith(f"oncall.yaml: {path}: {says}"), problem


def test_every_problem_of_a_file_is_named_with_its_path():
    text = (
        DOCUMENT.replace("start: '22:00'", "start: 22:00")
        .replace("delay_minutes: 5", "delay_minutes: 61")
        .replace("'email:bob@example.com'", "'email:nobody@example.com'")
        .replace("level: 2,", "level: 1,")
        .replace("kind: webhook, url", "kind: carrier-pigeon, url")
    )
    with pytest.raises(config.FileProblems) as refused:
        config.load(text, "oncall.yaml")
    problems = refused.value.problems
    assert len(problems) == 5, problems
    assert any(
        "users[0].notification_rules[0].delay_minutes: must be a whole number from 0 to 60" in p for p in problems
    )
    assert any("users[0].notification_rules[1].contact_method: names no contact method of bob" in p for p in problems)
    assert any("users[1].quiet_hours.start: must be a quoted time such as '09:00'" in p for p in problems)
    assert any(
        "services[1].escalation.levels[1]: the same escalation level as services[1].escalation.levels[0]" in p
        for p in problems
    )
    assert any("services[1].channels[0].kind: must be one of slack, webhook, sns" in p for p in problems)


def test_yaml_that_does_not_parse_is_refused_with_its_line():
    with pytest.raises(config.FileProblems) as refused:
        config.load("users:\n- name: [alice\n", "oncall.yaml")
    assert refused.value.problems[0].startswith("oncall.yaml: line 3, column 1: not valid YAML")


def test_an_unchanged_configuration_has_no_diff_and_an_edit_only_its_own_changes():
    current = loaded()
    assert config.diff(current, loaded()) == []
    edited = loaded(
        DOCUMENT.replace("wait_minutes: 10", "wait_minutes: 15")
        .replace("  - {user: alice, start: '2030-01-01T08:00:00Z', end: '2030-01-02T08:00:00Z'}\n", "")
        .replace("users:\n", "users:\n- name: carol\n")
    )
    changes = config.diff(current, edited)
    assert [(c.action, c.kind.name, c.key) for c in changes] == [
        ("create", "user", ("carol",)),
        ("change", "escalation level", ("payments", 2)),
        ("delete", "shift", ("payments", "alice", "2030-01-01T08:00:00.000Z", "2030-01-02T08:00:00.000Z", False)),
    ]
    assert changes[1].fields == ["wait_minutes"]
    assert config.render(changes[1]) == ["~ escalation level payments 2", "    wait_minutes: 10 -> 15"]


def snapshot_of(current: Configuration) -> Snapshot:
    snapshot = Snapshot(config=current)
    for kind in config.KINDS:
        for key in current.of(kind):
            snapshot.ids[kind.name, key] = f"id-{kind.name}-{len(snapshot.ids)}"
    return snapshot


def planned(edit, *, replaceable=None, no_delete=False, now=None) -> dict[str, str]:
    current = loaded()
    wanted = loaded(edit(DOCUMENT))
    result = apply.plan(snapshot_of(current), wanted, replaceable or {}, no_delete=no_delete, now=now)
    return {config.describe(step.change.kind, step.change.item): step.how for step in result.steps}


def test_how_each_kind_of_change_is_written():
    steps = planned(
        lambda text: (
            text.replace("grace_seconds: 300", "grace_seconds: 600")
            .replace("repeat: 2", "repeat: 3")
            .replace("wait_minutes: 10", "wait_minutes: 15")
            .replace("label: work", "label: home")
            .replace("quiet_hours: {start: '22:00', end: '07:00'}", "quiet_hours: {start: '23:00', end: '07:00'}")
        )
    )
    assert steps == {
        # In place: the heartbeat keeps its ping URL.
        "heartbeat search/backup": "update",
        "escalation repeat of payments": "update",
        "user alice": "update",
        "escalation level payments 2": "replace",
        "contact method bob email:bob@example.com": "replace",
    }


def test_replacing_what_holds_a_secret_is_a_manual_step_unless_the_file_allows_it():
    def edit(text):
        return text.replace("hooks.example.com/ops", "hooks.example.com/ops2")

    assert planned(edit) == {"channel payments/ops": "manual"}
    allowed = {(CHANNEL.name, ("payments", "ops")): True}
    assert planned(edit, replaceable=allowed) == {"channel payments/ops": "replace"}
    text = edit(DOCUMENT).replace(
        "url: 'https://hooks.example.com/ops2'", "url: 'https://x.example/1', replaceable: true"
    )
    _, flags = config.load(text)
    assert flags == {(CHANNEL.name, ("payments", "ops")): True}


def test_no_delete_keeps_what_the_file_leaves_out_and_an_ended_shift_is_not_made_again():
    def drop_heartbeats(text):
        return text.replace("  heartbeats:\n  - {name: backup, interval_seconds: 3600, grace_seconds: 300}\n", "")

    assert planned(drop_heartbeats) == {"heartbeat search/backup": "delete"}
    assert planned(drop_heartbeats, no_delete=True) == {}

    current, wanted = Configuration(), loaded()
    result = apply.plan(snapshot_of(current), wanted, {}, now=datetime(2030, 1, 2, 12, tzinfo=timezone.utc))
    made = {config.describe(step.change.kind, step.change.item) for step in result.steps}
    assert "shift payments alice 2030-01-01T08:00:00.000Z to 2030-01-02T08:00:00.000Z" not in made
    assert "shift payments bob 2030-01-02T08:00:00.000Z to 2030-01-03T08:00:00.000Z" in made
    assert result.skipped == [
        "override payments bob 2030-01-01T12:00:00.000Z to 2030-01-01T13:00:00.000Z: ended already, not made",
        "shift payments alice 2030-01-01T08:00:00.000Z to 2030-01-02T08:00:00.000Z: ended already, not made",
    ]


def test_writes_go_users_first_and_deletes_in_reverse():
    result = apply.plan(snapshot_of(Configuration()), loaded(), {})
    kinds = [step.change.kind for step in result.steps]
    assert kinds.index(USER) < kinds.index(METHOD) < kinds.index(RULE) < kinds.index(POLICY) < kinds.index(LEVEL)
    assert kinds.index(LEVEL) < kinds.index(SHIFT) < kinds.index(CHANNEL) < kinds.index(HEARTBEAT)
    # The repeat is set, not made: a service always has one.
    assert [step.how for step in result.steps if step.change.kind is POLICY] == ["update"]
    assert result.summary() == f"{len(result.steps)} to create, 0 to change, 0 to delete"


def test_a_kind_the_server_has_no_routes_for_is_refused_by_name_not_written():
    snapshot = snapshot_of(Configuration())
    snapshot.missing = {HEARTBEAT.name}
    result = apply.plan(snapshot, loaded(), {})
    (blocked,) = [step for step in result.steps if step.how == "unsupported"]
    assert blocked.lines() == ["! heartbeat search/backup -- this server has no /api/heartbeats route"]
    assert blocked not in result.writes
    assert result.summary().endswith("; 1 cannot be applied as written (marked !)")
