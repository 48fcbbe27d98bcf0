"""The whole paging loop in a real browser against `make run`'s server: a user verifies
a number with the code the console's Sent messages page shows, an incident pages them,
and the link in the SMS acknowledges it as them."""

import re
import time

from playwright.sync_api import expect

from tests.browser.test_console import shift
from tests.e2e import client

NUMBER = "+15555550142"


def local_messages(server: str) -> list[dict]:
    return client.expect(client.get(server, "/api/local/messages"), 200)["messages"]


def wait_for_sms(server: str, startswith: str, timeout: float = 15) -> dict:
    """The newest SMS to NUMBER starting so; the local deliverer runs every 2 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in local_messages(server):
            if message["to"] == NUMBER and message["text"].startswith(startswith):
                return message
        time.sleep(0.2)
    raise AssertionError(f"no SMS to {NUMBER} starting {startswith!r}: {local_messages(server)}")


def test_trigger_sent_messages_link_acknowledged(console, server):
    client.expect(client.post(server, "/api/users/", {"name": "paula"}), 201)
    method = client.expect(
        client.post(server, "/api/users/paula/contact-methods/", {"kind": "sms", "address": NUMBER}), 201
    )
    code = re.search(r"code is (\d{6})", wait_for_sms(server, "oncall: your verification code")["text"]).group(1)
    verify = f"/api/users/paula/contact-methods/{method['id']}/verify"
    client.expect(client.post(server, verify, {"code": code}), 200)
    rule = {"contact_method_id": method["id"], "delay_minutes": 0, "urgency": "high"}
    client.expect(client.post(server, "/api/users/paula/notification-rules/", rule), 201)
    shift(server, "paging", "paula")
    incident = client.expect(client.trigger(server, "paging", "Disk full on db-1", severity="critical"), 201)
    page = wait_for_sms(server, f"oncall #{incident['id']} CRITICAL paging")

    console.sign_in(route="messages")
    messages = console.page.locator("#messages")
    expect(messages).to_contain_text(f"oncall #{incident['id']} CRITICAL paging: Disk full on db-1")
    console.screenshot("sent-messages")
    link = messages.locator("a.message-link").first
    assert link.get_attribute("href") in page["text"]
    link.click()

    # The link asks first (a GET changes nothing), then acts as paula.
    expect(console.page.get_by_role("heading", name=f"Acknowledge incident #{incident['id']}?")).to_be_visible()
    assert client.expect(client.get(server, f"/api/incidents/{incident['id']}/"), 200)["status"] == "TRIGGERED"
    console.page.get_by_role("button", name="Acknowledge as paula").click()
    expect(console.page.get_by_role("heading", name=f"Incident #{incident['id']} is ACKNOWLEDGED")).to_be_visible()
    stored = client.expect(client.get(server, f"/api/incidents/{incident['id']}/"), 200)
    assert (stored["status"], stored["acknowledged_by"]) == ("ACKNOWLEDGED", "paula")
