"""What a deployed stage tells its operators, asserted in process: each function's
metrics as one CloudWatch embedded-metric-format line per invocation (the sweep's
and the notifier's heartbeat, the sweep's lag, alerts, folds, pages), and log
lines as JSON carrying the invocation's request id, with no key or code in them."""

import io
import json
import logging

import pytest
from pynamodb.exceptions import QueryError

from chalicelib import config, logs, telemetry
from chalicelib.models import Incident
from tests.flows import dynamodb_fails, on_call_now, post, trigger_ok
from tests.messages import code_sent_to
from tests.test_pages import person


def emf_lines(text: str) -> list[dict]:
    """The embedded-metric-format objects among printed lines."""
    found = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            found.append(json.loads(line))
    return found


def figures(text: str) -> dict[str, list[float]]:
    """Metric name -> values, from every EMF line printed, checking each line's shape."""
    values: dict[str, list[float]] = {}
    for blob in emf_lines(text):
        [directive] = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == telemetry.NAMESPACE
        assert directive["Dimensions"] == [[telemetry.DIMENSION]]
        assert blob[telemetry.DIMENSION] == f"oncall-{config.settings().stage}"
        for metric in directive["Metrics"]:
            value = blob[metric["Name"]]
            values.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return values


def invoke_scheduled(client, function: str):
    event = client.events.generate_cw_event(
        source="aws.events",
        detail_type="Scheduled Event",
        detail={},
        resources=[f"arn:aws:events:us-east-1:123456789012:rule/oncall-test-{function}"],
    )
    return client.lambda_.invoke(function, event).payload


@pytest.fixture
def product_log():
    """The product logger's JSON lines, written to a buffer for the test."""
    handler = logs.product().logger_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_each_sweep_writes_its_heartbeat_and_how_late_the_oldest_due_step_was(client, manual_clock, capsys):
    trigger_ok(client, "db", "disk full")
    manual_clock.advance(seconds=100)
    trigger_ok(client, "db", "cpu hot")
    capsys.readouterr()

    manual_clock.advance(seconds=200 + 150)  # the first is 150 s past its step, the second 50 s
    assert invoke_scheduled(client, "escalation_sweep")["escalated"] == 2
    assert figures(capsys.readouterr().out) == {telemetry.SWEEP_LAG: [150.0], telemetry.SWEEP_RUNS: [1.0]}

    # Nothing due: still a heartbeat, and no lag.
    assert invoke_scheduled(client, "escalation_sweep")["escalated"] == 0
    assert figures(capsys.readouterr().out) == {telemetry.SWEEP_LAG: [0.0], telemetry.SWEEP_RUNS: [1.0]}


def test_a_sweep_that_fails_writes_no_heartbeat(client, manual_clock, capsys):
    trigger_ok(client, "db", "disk full")
    manual_clock.advance(seconds=301)
    capsys.readouterr()
    with dynamodb_fails(Incident, "Query"), pytest.raises(QueryError):
        invoke_scheduled(client, "escalation_sweep")
    assert telemetry.SWEEP_RUNS not in figures(capsys.readouterr().out)


def test_the_notifiers_minute_run_writes_its_heartbeat(client, capsys):
    invoke_scheduled(client, "notification_retries")
    assert figures(capsys.readouterr().out) == {telemetry.NOTIFIER_RUNS: [1.0]}


def test_alerts_count_as_received_then_opened_or_folded_one_line_per_request(client, capsys):
    capsys.readouterr()
    trigger_ok(client, "db", "disk full")
    trigger_ok(client, "db", "disk full")
    lines = emf_lines(capsys.readouterr().out)
    assert len(lines) == 2
    assert figures(json.dumps(lines[0])) == {telemetry.ALERTS_RECEIVED: [1.0], telemetry.INCIDENTS_OPENED: [1.0]}
    assert figures(json.dumps(lines[1])) == {telemetry.ALERTS_RECEIVED: [1.0], telemetry.ALERTS_FOLDED: [1.0]}


def test_pages_count_as_sent_and_a_page_given_up_on_as_failed(client, manual_clock, monkeypatch, capsys):
    person(client, "alice", sms="+14155550100", email="alice@example.com")
    monkeypatch.setenv("ONCALL_EMAIL_FROM", "unverified@example.com")  # SES refuses to send from it
    config.settings.cache_clear()
    on_call_now(client, "payments", "alice")
    trigger_ok(client, "payments", "checkout errors")
    capsys.readouterr()
    invoke_scheduled(client, "notification_retries")  # the SMS, at once
    manual_clock.advance(seconds=5 * 60)
    invoke_scheduled(client, "notification_retries")  # the email, refused for good
    assert figures(capsys.readouterr().out) == {
        telemetry.PAGES_SENT: [1.0],
        telemetry.PAGES_FAILED: [1.0],
        telemetry.NOTIFIER_RUNS: [1.0, 1.0],
    }


def test_an_invocation_without_figures_prints_no_metrics_line(client, capsys):
    capsys.readouterr()
    assert client.http.get("/api/health").status_code == 200
    assert emf_lines(capsys.readouterr().out) == []


def test_metrics_are_off_where_the_setting_says(client, monkeypatch, capsys):
    monkeypatch.setenv("ONCALL_METRICS", "0")
    config.settings.cache_clear()
    trigger_ok(client, "db", "disk full")
    invoke_scheduled(client, "escalation_sweep")
    assert emf_lines(capsys.readouterr().out) == []


def test_log_lines_are_json_carrying_the_invocations_request_id(client, product_log):
    client.lambda_.invoke("cloudwatch_alarms", {})  # no Records: skipped with a warning
    [line] = product_log.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "WARNING"
    assert record["message"] == "skipped an SNS event without Records"
    assert record["service"] == "oncall"
    assert record["location"].startswith("receive_lambda_event:")
    assert record["function"] == "cloudwatch_alarms"
    assert len(record["request_id"]) == 36  # the Lambda context's id

    # The next invocation's lines carry its own id, and none is left over between them.
    client.lambda_.invoke("cloudwatch_alarms", {})
    second = json.loads(product_log.getvalue().splitlines()[1])
    assert second["request_id"] != record["request_id"]
    logs.product().info("between invocations")
    assert "request_id" not in json.loads(product_log.getvalue().splitlines()[2])


class Everything(logging.Handler):
    """Every record any logger emits, formatted, at every level."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.text.append(record.getMessage() + repr(record.__dict__))


def test_no_key_or_code_reaches_any_log_line(client, keyring, product_log, capsys):
    everything = Everything()
    root = logging.getLogger()
    root.addHandler(everything)
    try:
        made = post(client, "/api/keys/", {"name": "deploy bot", "role": "integration", "services": ["db"]})
        assert made.status_code == 201, made.body
        token = made.json_body["token"]
        trigger_ok(client.with_token(token), "db", "disk full")
        assert post(client.with_token(token + "x"), "/api/incidents/trigger/", {}).status_code == 401
        post(client, "/api/users/", {"name": "alice"})
        method = post(client, "/api/users/alice/contact-methods/", {"kind": "sms", "address": "+14155550100"})
        code = code_sent_to("+14155550100")
        wrong = "000000" if code != "000000" else "111111"
        path = f"/api/users/alice/contact-methods/{method.json_body['id']}/verify"
        assert post(client, path, {"code": wrong}).status_code == 400
        assert post(client, path, {"code": code}).status_code == 200
    finally:
        root.removeHandler(everything)
    written = "\n".join(everything.text) + product_log.getvalue() + "".join(capsys.readouterr())
    for secret in (token, keyring.admin(), code):
        assert secret not in written
