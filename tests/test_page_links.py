"""The links in a page act as the person paged: GET shows a confirmation and changes
nothing, POST acts; an altered or expired link is refused."""

import re

import pytest

from chalicelib import clock, config
from chalicelib.incident import links
from chalicelib.notify import delivery
from tests.flows import get_incident, on_call_now, trigger_ok, writes
from tests.messages import sent_email
from tests.test_pages import email_sender, pages_to, person  # noqa: F401 (email_sender: a fixture)

CONSOLE = "https://oncall.example.com"


@pytest.fixture(autouse=True)
def console_url(monkeypatch):
    monkeypatch.setenv("ONCALL_CONSOLE_URL", CONSOLE)
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


def paged_link(client) -> tuple[dict, str]:
    person(client, "alice", sms="+14155550100", email="alice@example.com")
    on_call_now(client, "payments", "alice")
    incident = trigger_ok(client, "payments", "checkout errors")
    delivery.run()
    [page] = pages_to("+14155550100")
    found = re.search(rf"Ack: {re.escape(CONSOLE)}(/act/\S+)", page)
    assert found, page
    return incident, found.group(1)


def test_the_sms_link_asks_on_get_and_acknowledges_as_alice_on_post(client, requests_made):
    incident, path = paged_link(client)
    with requests_made.measure() as calls:
        shown = client.anonymous.get(path)
    assert shown.status_code == 200
    assert shown.headers["Content-Type"].startswith("text/html")
    page = shown.body.decode()
    assert f"Acknowledge incident #{incident['id']}?" in page and "Acknowledge as alice" in page
    assert writes(calls) == {} and get_incident(client, incident["id"])["status"] == "TRIGGERED"

    done = client.anonymous.post(path, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=b"")
    assert done.status_code == 200, done.body
    stored = get_incident(client, incident["id"])
    assert (stored["status"], stored["acknowledged_by"]) == ("ACKNOWLEDGED", "alice")

    again = client.anonymous.post(path, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=b"")
    assert again.status_code == 400 and "Nothing to do" in again.body.decode()


def test_an_altered_or_expired_link_is_refused(client, manual_clock):
    incident, path = paged_link(client)
    token = path.removeprefix("/act/")
    payload, mac = token.split(".")
    for forged in (
        payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + mac,
        links.token(incident["id"], "acknowledge", "alice", clock.now()).split(".")[0] + ".AAAA",
        "not-a-token",
        "x" * 5000,
    ):
        refused = client.anonymous.post(f"/act/{forged}", headers={"Content-Type": "text/plain"}, body=b"")
        assert refused.status_code == 403, (forged[:40], refused.body)
    manual_clock.advance(seconds=links.LIFETIME.total_seconds() + 1)
    expired = client.anonymous.get(path)
    assert expired.status_code == 403 and "expired" in expired.body.decode()
    assert get_incident(client, incident["id"])["status"] == "TRIGGERED"


def test_the_email_carries_both_links_and_the_resolve_link_resolves(client, manual_clock):
    incident, _ = paged_link(client)
    manual_clock.advance(seconds=5 * 60)
    delivery.run()
    [(_, _, body)] = sent_email()
    resolve = re.search(rf"Resolve: {re.escape(CONSOLE)}(/act/\S+)", body).group(1)
    assert "Acknowledge: " + CONSOLE + "/act/" in body
    done = client.anonymous.post(resolve, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=b"")
    assert done.status_code == 200, done.body
    assert get_incident(client, incident["id"])["resolved_by"] == "alice"


def test_a_title_cannot_put_markup_in_the_page(client):
    person(client, "alice", sms="+14155550100")
    on_call_now(client, "payments", "alice")
    incident = trigger_ok(client, "payments", '<script>alert("x")</script>')
    token = links.token(incident["id"], "acknowledge", "alice", clock.now())
    page = client.anonymous.get(f"/act/{token}").body.decode()
    assert "<script>" not in page and "&lt;script&gt;" in page
