"""Calendar feeds: a secret URL a calendar app fetches with no key, showing a service's
final schedule or one person's turns; capped per person; revoked, it stops at once."""

from chalicelib.api.payloads import CalendarFeedBody
from chalicelib.errors import Conflict
from chalicelib.schedule import feeds
from tests.flows import add_shift, post, run_threads

SERVICE = "payments"


def make_feed(client, user, **body):
    return post(client, f"/api/users/{user}/calendar-feeds", body)


def fetch(client, url: str):
    """What a calendar app gets for the feed's URL: no key, whatever the URL's host."""
    path = url.split("://", 1)[1].split("/", 1)[1]
    return client.anonymous.get("/" + path)


def test_a_service_feed_is_its_final_schedule_to_anyone_holding_the_url_until_revoked(client):
    add_shift(client, SERVICE, "alice", "2026-03-01T12:00:00Z", "2026-03-02T12:00:00Z")
    made = make_feed(client.as_user("alice"), "alice", service_name=SERVICE)
    assert made.status_code == 201, made.body
    feed = made.json_body
    assert (feed["kind"], feed["subject"], feed["user"]) == ("service", SERVICE, "alice")
    assert feed["webcal"].startswith("webcal://") and feed["url"].startswith("http")
    assert feed["webcal"].split("://")[1] == feed["url"].split("://")[1]

    answer = fetch(client, feed["url"])
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/calendar")
    text = answer.body.decode()
    assert "X-WR-CALNAME:On call: payments" in text
    assert "SUMMARY:On call for payments: alice" in text
    assert "DTSTART:20260301T120000Z" in text

    # Listed without its URL or token; revoked, the same URL is a 404 at once.
    [listed] = client.http.get("/api/users/alice/calendar-feeds").json_body["calendar_feeds"]
    assert set(listed) == {"id", "user", "kind", "subject", "created_at"}
    gone = client.as_user("alice").http.delete(f"/api/users/alice/calendar-feeds/{feed['id']}")
    assert gone.status_code == 204
    assert fetch(client, feed["url"]).status_code == 404
    assert client.http.get("/api/users/alice/calendar-feeds").json_body["calendar_feeds"] == []


def test_a_persons_feed_shows_their_turns_in_every_service_and_no_one_elses(client):
    add_shift(client, SERVICE, "alice", "2026-03-01T12:00:00Z", "2026-03-01T20:00:00Z")
    add_shift(client, SERVICE, "bob", "2026-03-01T20:00:00Z", "2026-03-02T08:00:00Z")
    add_shift(client, "search", "alice", "2026-03-03T08:00:00Z", "2026-03-03T16:00:00Z")
    feed = make_feed(client.as_user("alice"), "alice").json_body
    assert (feed["kind"], feed["subject"]) == ("user", "alice")
    text = fetch(client, feed["url"]).body.decode()
    assert "X-WR-CALNAME:On call: alice" in text
    assert text.count("BEGIN:VEVENT") == 2
    assert "SUMMARY:On call for payments: alice" in text and "SUMMARY:On call for search: alice" in text
    assert "bob" not in text


def test_a_url_that_is_not_a_live_feed_is_a_404_that_says_nothing_more(client):
    feed = make_feed(client, "alice", service_name=SERVICE).json_body
    token = feed["url"].rsplit("/", 1)[1]
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), token[4:], "cal_" + "x" * 200, "oncall_key"):
        answer = client.anonymous.get(f"/calendar/{wrong}")
        assert answer.status_code == 404
        assert answer.json_body["error"] == feeds.GONE
    # An API key is no calendar token.
    assert client.anonymous.get(f"/calendar/{client.keyring.admin()}").status_code == 404


def test_a_responder_manages_only_their_own_feeds(client):
    assert make_feed(client.as_user("bob"), "alice", service_name=SERVICE).status_code == 403
    alices = make_feed(client.as_user("alice"), "alice", service_name=SERVICE).json_body
    assert client.as_user("bob").http.get("/api/users/alice/calendar-feeds").status_code == 403
    assert client.as_user("bob").http.delete(f"/api/users/alice/calendar-feeds/{alices['id']}").status_code == 403
    # bob's own path does not reach alice's feed either.
    assert client.as_user("bob").http.delete(f"/api/users/bob/calendar-feeds/{alices['id']}").status_code == 404
    # An admin may revoke anyone's (a lost phone).
    assert client.http.delete(f"/api/users/alice/calendar-feeds/{alices['id']}").status_code == 204


def test_at_most_ten_feeds_a_person_even_when_made_at_once(client):
    # The domain call on each thread: chalice's test client swaps os.environ per call,
    # which threads calling it at once would leave swapped.
    def make() -> str:
        try:
            feeds.create("alice", CalendarFeedBody(), "http://oncall.test")
        except Conflict as refused:
            return refused.message
        return "made"

    results, errors = run_threads([make] * 14)
    assert errors == [None] * 14
    assert results.count("made") == feeds.MAX_FEEDS
    assert results.count("alice has 10 calendar feeds, as many as one may; revoke one first.") == 4
    alice = client.as_user("alice")
    listed = alice.http.get("/api/users/alice/calendar-feeds").json_body["calendar_feeds"]
    assert len(listed) == feeds.MAX_FEEDS
    assert make_feed(alice, "alice").status_code == 409
    assert alice.http.delete(f"/api/users/alice/calendar-feeds/{listed[0]['id']}").status_code == 204
    assert make_feed(alice, "alice").status_code == 201
    assert make_feed(alice, "alice").status_code == 409


def test_deleting_a_person_revokes_their_feeds(client):
    assert post(client, "/api/users", {"name": "alice"}).status_code == 201
    urls = [make_feed(client, "alice", **body).json_body["url"] for body in ({}, {"service_name": SERVICE})]
    assert all(fetch(client, url).status_code == 200 for url in urls)
    assert client.http.delete("/api/users/alice").status_code == 204
    assert all(fetch(client, url).status_code == 404 for url in urls)
    assert client.http.get("/api/users/alice/calendar-feeds").json_body["calendar_feeds"] == []
    # Their count went with them: a new alice starts with none.
    assert post(client, "/api/users", {"name": "alice"}).status_code == 201
    assert all(make_feed(client, "alice").status_code == 201 for _ in range(feeds.MAX_FEEDS))


def test_deleting_someone_who_is_not_a_user_touches_no_feed(client):
    url = make_feed(client, "admin").json_body["url"]
    assert client.http.delete("/api/users/admin").status_code == 404
    assert fetch(client, url).status_code == 200
