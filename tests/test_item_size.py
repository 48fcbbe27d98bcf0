"""An incident is one DynamoDB item, and DynamoDB refuses an item over 400 KB (the
embedded emulator counts as DynamoDB does: tests/test_dynamodb_rules.py). Whatever
an integration sends, the incident it opens must leave room for the rest of its
life: every transition it may take, then its acknowledgement and resolution."""

import json

from chalicelib import itemsize
from chalicelib.incident import incidents, store, timeline
from chalicelib.models import Incident
from tests.flows import JSON, acknowledge, post, resolve, trigger_body

EMOJI = "\U0001f6a8"  # 4 bytes of UTF-8; 12 as a JSON escape


def stored_size(incident_id: int) -> int:
    return itemsize.item_size(Incident.get(incident_id, consistent_read=True).serialize())


def live_through_a_full_history(client, number: int) -> None:
    """Reassign until the history is full, then acknowledge and resolve: each answers
    as it should, never a 500."""
    for n in range(timeline.MAX_EVENTS - 1):
        response = post(client, f"/api/incidents/{number}/reassign/", {"user": f"{EMOJI * 100}{n:03d}"})
        assert response.status_code == 200, (n, response.body)
    refused = post(client, f"/api/incidents/{number}/reassign/", {"user": "one too many"})
    assert refused.status_code == 409, refused.body
    assert acknowledge(client, number).status_code == 200
    assert resolve(client, number).status_code == 200
    assert stored_size(number) <= itemsize.MAX_ITEM_BYTES


def test_the_largest_pagerduty_trigger_still_lives_a_full_history(client):
    integration = client.keyring.integration("payments")
    wide = EMOJI * 1024
    event = {
        "routing_key": integration,
        "event_action": "trigger",
        "dedup_key": "wide",
        "payload": {
            "summary": wide,
            "source": EMOJI * 255,
            "severity": "critical",
            "component": wide,
            "group": wide,
            "class": wide,
            "timestamp": wide,
            "custom_details": {"log": EMOJI * 16_000, "lines": [EMOJI * 100] * 30},
        },
        "client": wide,
        "client_url": wide,
    }
    body = json.dumps(event, ensure_ascii=False).encode()
    assert 100_000 < len(body) < 512 * 1024
    answer = client.anonymous.post("/v2/enqueue", headers=JSON, body=body)
    assert answer.status_code == 202, answer.body

    [number] = [incident.id for incident in Incident.service_index.query("payments")]
    assert stored_size(number) <= incidents.OPENING_BUDGET
    details = Incident.get(number).details
    assert details["component"].startswith(EMOJI)
    live_through_a_full_history(client, number)


def test_details_beyond_what_an_incident_keeps_are_replaced_by_a_note_and_the_alert_still_opens(client):
    huge = {"dump": EMOJI * 60_000}  # 240 KB of details, more than any integration passes on
    opened, created = incidents.trigger(
        trigger_body("payments", "huge details", description="x" * 65_536),
        "ci",
        incidents.Origin(source="a test", details=huge),
    )
    assert created
    stored = Incident.get(opened["id"])
    assert "details were" in stored.details["detailsOmitted"]
    assert stored.description == "x" * 65_536
    assert stored_size(opened["id"]) <= incidents.OPENING_BUDGET
    # The room the budget keeps is walked in full by the test above; here the two
    # transitions that must always fit.
    assert acknowledge(client, opened["id"]).status_code == 200
    assert resolve(client, opened["id"]).status_code == 200


def test_a_description_is_cut_last_with_a_visible_marker():
    incident = Incident(
        1,
        service_name="payments",
        title="t",
        description=EMOJI * 60_000,
        severity="critical",
        status="TRIGGERED",
        dedup_key="title:x",
        created_at=incidents.clock.now(),
        last_alert_at=incidents.clock.now(),
        feed=store.LIST,
        details={"kept": "small"},
    )
    incidents.fit_for_life(incident)
    assert itemsize.item_size(incident.serialize()) <= incidents.OPENING_BUDGET
    assert incident.details == {"detailsOmitted": incident.details["detailsOmitted"]}
    assert incident.description.startswith(EMOJI * 1000)
    assert incident.description.endswith("bytes, more than this incident keeps)")


def test_the_budget_leaves_room_for_the_largest_alert_the_api_takes():
    # A 1,024-character title and 64 KiB of description and of details, in 4-byte characters.
    largest = 4 * 1024 + 2 * 64 * 1024
    assert incidents.OPENING_BUDGET > largest + 4 * 1024
