"""SMS replies: "ack 123" texted back from a verified number acknowledges as that
number's user; strangers get no answer; anything else gets the help line."""

import json

import pytest

from tests.flows import get_incident, post, trigger_ok
from tests.messages import code_sent_to, sent_sms

NUMBER = "+14155550100"


def verified(client, name="alice", number=NUMBER):
    assert post(client, "/api/users/", {"name": name}).status_code == 201
    method = post(client, f"/api/users/{name}/contact-methods/", {"kind": "sms", "address": number}).json_body
    code = code_sent_to(number)
    assert post(client, f"/api/users/{name}/contact-methods/{method['id']}/verify", {"code": code}).status_code == 200


def text_in(client, body, number=NUMBER) -> list[str]:
    """An inbound SMS as AWS End User Messaging publishes it to the stack's topic."""
    payload = {
        "originationNumber": number,
        "destinationNumber": "+12125550101",
        "messageKeyword": "KEYWORD_123456789012",
        "messageBody": body,
        "inboundMessageId": "cae173d2-66b9-564c-8309-21f858e9fb84",
        "previousPublishedMessageId": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    }
    event = client.events.generate_sns_event(message=json.dumps(payload), subject="")
    return client.lambda_.invoke("sms_replies", event).payload


def replies_to(number=NUMBER) -> list[str]:
    return [text for to, text in sent_sms() if to == number and not text.startswith("oncall: your verification")]


@pytest.mark.parametrize("body", ["ack {id}", "ACK #{id}", " a {id} ", "acknowledge {id}."])
def test_a_reply_from_a_verified_number_acknowledges_as_its_user(client, body):
    verified(client)
    incident = trigger_ok(client, "payments", "checkout errors")
    assert text_in(client, body.format(id=incident["id"])) == ["acknowledged"]
    stored = get_incident(client, incident["id"])
    assert (stored["status"], stored["acknowledged_by"]) == ("ACKNOWLEDGED", "alice")
    [reply] = replies_to()
    assert reply.startswith(f"oncall: #{incident['id']} ACKNOWLEDGED by alice")


def test_resolve_and_what_cannot_be_done_are_answered(client):
    verified(client)
    incident = trigger_ok(client, "payments", "checkout errors")
    assert text_in(client, f"resolve {incident['id']}") == ["resolved"]
    assert get_incident(client, incident["id"])["resolved_by"] == "alice"
    assert text_in(client, f"ack {incident['id']}") == ["refused"]
    assert text_in(client, "ack 999999") == ["refused"]
    assert text_in(client, "what is going on?") == ["help"]
    assert replies_to()[-1].startswith("oncall: reply 'ack 123'")


def test_a_stranger_or_an_unverified_number_gets_no_answer_and_changes_nothing(client):
    incident = trigger_ok(client, "payments", "checkout errors")
    assert text_in(client, f"ack {incident['id']}", number="+14155550199") == ["unknown_number"]
    assert post(client, "/api/users/", {"name": "bob"}).status_code == 201
    post(client, "/api/users/bob/contact-methods/", {"kind": "sms", "address": "+14155550188"})
    assert text_in(client, f"ack {incident['id']}", number="+14155550188") == ["unknown_number"]
    assert get_incident(client, incident["id"])["status"] == "TRIGGERED"
    assert replies_to("+14155550199") == [] and replies_to("+14155550188") == []


def test_a_record_that_is_no_inbound_sms_is_skipped(client):
    event = client.events.generate_sns_event(message="not json", subject="")
    assert client.lambda_.invoke("sms_replies", event).payload == ["skipped"]
    event = client.events.generate_sns_event(message=json.dumps({"messageBody": "ack 1"}), subject="")
    assert client.lambda_.invoke("sms_replies", event).payload == ["skipped"]
