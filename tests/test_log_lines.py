"""The alert log: one JSON line and one human line per event, whatever the values
in them hold. User text (service and user names, titles) cannot end a line early
or start a forged one: control characters, DEL and Unicode line separators in it
are escaped. And an incident nobody was on call for reads "unassigned: nobody is
on call" in the log, the messages and the timeline."""

import json
import logging

from chalicelib import logs
from chalicelib.notify import senders
from tests.flows import Lines, on_call_now, post, trigger_ok

FORGED = "bob\n🚨 ALERT 🚨 Service: payments, Incident ID: 1, Assigned To: mallory"
# Everything some terminal, log viewer or str.splitlines() takes for a line break.
BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
NOBODY = "unassigned (nobody is on call)"


def assert_one_line_each(lines: list[str]) -> None:
    for line in lines:
        assert line.splitlines() == [line], line
        assert not any(char in line for char in BREAKS + "\x1b\x7f"), line


def test_a_reassignment_cannot_forge_an_alert_line(client):
    incident = trigger_ok(client, "payments", "Card payments failing")
    with Lines() as log:
        response = post(client, f"/api/incidents/{incident['id']}/reassign", {"user": FORGED})
    assert response.status_code == 200, response.body
    assert response.json_body["assigned_to"] == FORGED  # stored as given
    assert_one_line_each(log.lines)
    [record, human] = log.lines
    assert json.loads(record)["assigned_to"] == FORGED
    assert human == (
        f"👤 Incident reassigned: {incident['id']} (payments) to "
        "bob\\n🚨 ALERT 🚨 Service: payments, Incident ID: 1, Assigned To: mallory by admin"
    )
    assert not any(line.startswith("🚨") for line in log.lines)


def test_every_line_break_and_control_character_in_user_text_is_escaped(client, manual_clock):
    service = "pay" + BREAKS + "\x1b[31m\x7f\t\\n" + "ments"
    on_call_now(client, service, "al\u2028ice")
    with Lines() as log:
        incident = trigger_ok(client, service, "title\x85with a next line")
        client.http.post(f"/api/incidents/{incident['id']}/acknowledge", headers={}, body=b"")
    assert_one_line_each(log.lines)
    assert len(log.lines) == 2 * 2  # triggered and acknowledged, a JSON line and a human line each
    record = json.loads(log.lines[0])
    assert (record["service_name"], record["title"], record["assigned_to"]) == (
        service,
        "title\x85with a next line",
        "al\u2028ice",
    )
    assert log.lines[1] == (
        "🚨 ALERT 🚨 Service: pay\\n\\r\\x0b\\x0c\\x1c\\x1d\\x1e\\x85\\u2028\\u2029\\x1b[31m\\x7f\\t\\\\nments, "
        f"Incident ID: {incident['id']}, Assigned To: al\\u2028ice"
    )


def test_printable_leaves_ordinary_text_alone():
    text = "Zahlungen fehlgeschlagen: 7,2 % — 支払い 🚨 <b>&amp;</b> 'quoted' \"twice\""
    assert logs.printable(text) == text


# --- an incident nobody was on call for ---------------------------------------------------------


def test_nobody_on_call_reads_unassigned_in_the_log_the_messages_and_the_timeline(client):
    with Lines() as log:
        incident = trigger_ok(client, "queue", "backlog")
    assert log.lines[1] == f"🚨 ALERT 🚨 Service: queue, Incident ID: {incident['id']}, Assigned To: {NOBODY}"
    assert log.lines[3] == f"⚠️ Incident {incident['id']} of queue is unassigned: nobody is on call"
    assert client.http.get(f"/api/incidents/{incident['id']}").json_body["timeline"][0]["message"] == (
        "Triggered by admin; unassigned: nobody is on call."
    )
    message = {
        "event": "incident.triggered",
        "incident": {**incident, "url": None},
        "text": "Triggered by admin; unassigned: nobody is on call.",
        "actor": "admin",
    }
    assert f"Assigned to: {NOBODY}" in senders.plain_text(message).splitlines()
    assert f"*Assigned to:* {NOBODY}" in json.loads(senders.slack_body(message))["blocks"][1]["text"]["text"]


def test_user_text_in_any_log_record_is_escaped_and_information_is_logged(client):
    from tests.test_cloudwatch import alarm, lambda_event

    records: list[logging.LogRecord] = []
    collector = logging.Handler()
    collector.emit = records.append
    logger = logging.getLogger("oncall.cloudwatch")
    logger.addHandler(collector)
    try:
        [result] = client.lambda_.invoke("cloudwatch_alarms", lambda_event(alarm(AlarmName=FORGED))).payload
    finally:
        logger.removeHandler(collector)
    assert result["action"] == "triggered"
    lines = [record.getMessage() for record in records]
    assert lines and all(FORGED.replace("\n", "\\n") in line for line in lines), lines
    assert_one_line_each(lines)
