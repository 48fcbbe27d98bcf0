"""DynamoDB faults at every call position of the paths a page takes: trigger (new and
folded), acknowledge, resolve, an escalation step and a notification delivery.

Each fault (tests/faults.py) is injected once, or for as many attempts as botocore
makes of one call, at the n-th DynamoDB request of the operation, for every n the
operation reaches. The caller gets its success or a 503 with Retry-After, never a
500; it retries after a 503 as a monitoring tool would; afterwards there is exactly
one incident per alert, alert_count equals the alerts accepted, the metrics agree
with the incidents and every event reaches the receiver once.
"""

from collections import Counter

import pytest

from chalicelib.models import AlertTally, Delivery, Incident
from oncall_local import dynamodb_direct
from tests import dynamo
from tests.faults import BOTOCORE_ATTEMPTS, KINDS, Faults, Script
from tests.flows import (
    acknowledge,
    add_level,
    check_escalations,
    get_incident,
    get_json,
    metrics,
    post,
    resolve,
    trigger,
)
from tests.receivers import Receiver

# Once (botocore's own retry heals it) or for every attempt botocore makes of the call
# (the product sees the error and must settle it).
REPEATS = (1, BOTOCORE_ATTEMPTS)
MAX_POSITIONS = 40
CLIENT_RETRIES = 4


def with_retries(call) -> tuple[list[int], object]:
    """Call until the answer is not a 503, as a caller honouring Retry-After would."""
    statuses = []
    for _ in range(CLIENT_RETRIES):
        response = call()
        statuses.append(response.status_code)
        assert response.status_code < 500 or response.status_code == 503, response.body
        if response.status_code != 503:
            return statuses, response
        assert response.headers.get("Retry-After", "").isdigit(), response.headers
        assert response.json_body["code"] == "busy"
    raise AssertionError(f"still 503 after {CLIENT_RETRIES} tries: {statuses}")


def every_position(faults: Faults, kind: str, repeat: int, scenario) -> int:
    """Run `scenario(position)` with the fault armed at each position the operation
    reaches; returns how many positions there were."""
    for position in range(1, MAX_POSITIONS + 1):
        scenario(position, lambda at=position: faults.arm(kind, at, repeat))
        reached = bool(faults.injected) or faults.seen >= position
        faults.disarm()
        if not reached:
            return position - 1
    raise AssertionError(f"the operation made more than {MAX_POSITIONS} DynamoDB requests")


def incidents_of(client, service: str) -> list[dict]:
    return get_json(client, f"/api/incidents/list/all/?service_name={service}")["incidents"]


def kinds_in(client, incident_id: int) -> Counter:
    return Counter(entry["kind"] for entry in get_incident(client, incident_id)["timeline"])


def test_only_the_faulted_call_takes_the_sdks_whole_path_and_is_retried_there(
    client, faults, requests_made, monkeypatch
):
    """Calls the injector passes are answered directly but still counted as requests;
    the faulted one is sent, refused, and retried by botocore as against AWS."""
    direct = Counter()
    answer_call = dynamodb_direct.answer_call

    def counted(routed, params, model, request_signer):
        direct[model.name] += 1
        return answer_call(routed, params, model, request_signer)

    monkeypatch.setattr(dynamodb_direct, "answer_call", counted)
    trigger(client, "warm-up", "disk full")  # the key's lookup, cached from here on
    direct.clear()
    faults.arm("throttled", 2, 1)
    with requests_made.measure() as calls:
        answer = trigger(client, "throttled", "disk full")
    assert answer.status_code == 201, answer.body
    [faulted] = faults.injected
    assert direct.total() == calls.total() - 1 >= 2
    assert direct + Counter([faulted]) == calls
    # The faulted call's two requests: the refused one and botocore's retry.
    assert faults.seen == calls.total() + 1


@pytest.mark.parametrize("repeat", REPEATS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_new_alert_opens_exactly_one_incident(client, faults, kind, repeat):
    def scenario(position, arm):
        service = f"new-{position}"
        arm()
        statuses, answer = with_retries(lambda: trigger(client, service, "disk full"))
        faults.disarm()
        assert answer.status_code == 201, (statuses, answer.body)
        assert answer.json_body["alert_count"] == 1
        [stored] = incidents_of(client, service)
        assert (stored["id"], stored["alert_count"]) == (answer.json_body["id"], 1)
        totals = metrics(client, service)
        assert (totals["total_incidents"], totals["alerts"]) == (1, 1)

    assert every_position(faults, kind, repeat, scenario) >= 4


@pytest.mark.parametrize("repeat", REPEATS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_duplicate_is_counted_once(client, faults, kind, repeat):
    def scenario(position, arm):
        service = f"fold-{position}"
        first = trigger(client, service, "disk full").json_body
        arm()
        statuses, answer = with_retries(lambda: trigger(client, service, "disk full"))
        faults.disarm()
        assert answer.status_code == 200, (statuses, answer.body)
        assert (answer.json_body["id"], answer.json_body["alert_count"]) == (first["id"], 2)
        [stored] = incidents_of(client, service)
        assert stored["alert_count"] == 2
        # The stats take the folded alert when the incident resolves.
        assert resolve(client, first["id"]).status_code == 400
        acknowledge(client, first["id"])
        assert resolve(client, first["id"]).status_code == 200
        assert metrics(client, service)["alerts"] == 2

    assert every_position(faults, kind, repeat, scenario) >= 3


@pytest.mark.parametrize("repeat", REPEATS)
@pytest.mark.parametrize("kind", KINDS)
def test_an_acknowledge_applies_once_and_answers_its_success(client, faults, kind, repeat):
    client.keyring.responder("alice")  # the test's own key, made before any fault

    def scenario(position, arm):
        number = trigger(client, f"ack-{position}", "disk full").json_body["id"]
        arm()
        statuses, answer = with_retries(lambda: acknowledge(client, number, "alice"))
        faults.disarm()
        assert answer.status_code == 200, (statuses, answer.body)
        assert (answer.json_body["status"], answer.json_body["acknowledged_by"]) == ("ACKNOWLEDGED", "alice")
        assert kinds_in(client, number)["acknowledged"] == 1

    assert every_position(faults, kind, repeat, scenario) >= 2


@pytest.mark.parametrize("repeat", REPEATS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_resolve_applies_once_and_the_metrics_agree(client, faults, manual_clock, kind, repeat):
    client.keyring.responder("alice")

    def scenario(position, arm):
        service = f"resolve-{position}"
        number = trigger(client, service, "disk full").json_body["id"]
        trigger(client, service, "disk full")
        manual_clock.advance(seconds=30)
        acknowledge(client, number, "alice")
        manual_clock.advance(seconds=90)
        arm()
        statuses, answer = with_retries(lambda: resolve(client, number, "alice"))
        faults.disarm()
        assert answer.status_code == 200, (statuses, answer.body)
        assert answer.json_body["status"] == "RESOLVED"
        assert kinds_in(client, number)["resolved"] == 1
        totals = metrics(client, service)
        assert (totals["total_incidents"], totals["resolved_incidents"], totals["alerts"]) == (1, 1, 2)
        assert (totals["mtta_seconds"], totals["mttr_seconds"]) == (30, 120)
        # The dedup item was released with it: the same alert opens a new incident.
        assert trigger(client, service, "disk full").status_code == 201

    assert every_position(faults, kind, repeat, scenario) >= 3


@pytest.mark.parametrize("repeat", REPEATS)
@pytest.mark.parametrize("kind", KINDS)
def test_an_escalation_step_is_taken_once(client, faults, manual_clock, two_shards, kind, repeat):
    # Every call position of the fan-out is still reached with two shards, in a fraction of the runs.
    def scenario(position, arm):
        service = f"escalate-{position}"
        assert add_level(client, service, 1, user="bob").status_code == 201
        number = trigger(client, service, "disk full").json_body["id"]
        manual_clock.advance(seconds=301)
        arm()
        # The minute schedule runs the sweep again; a step a fault stopped is taken then.
        for _ in range(CLIENT_RETRIES):
            with_retries(lambda: post(client, "/api/incidents/escalate/check/"))
            with faults.paused():
                if get_incident(client, number)["status"] == "ESCALATED":
                    break
        faults.disarm()
        assert check_escalations(client)["escalated"] == 0
        escalated = get_incident(client, number)
        assert (escalated["escalation_level"], escalated["assigned_to"]) == (1, "bob")
        assert kinds_in(client, number)["escalated"] == 1
        assert metrics(client, service)["escalated_incidents"] == 1
        manual_clock.advance(seconds=3600)

    assert every_position(faults, kind, repeat, scenario) >= 3


@pytest.mark.parametrize("repeat", REPEATS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_notification_is_delivered_once(client, faults, manual_clock, two_shards, kind, repeat):
    with Receiver() as receiver:

        def scenario(position, arm):
            service = f"notify-{position}"
            created = post(
                client,
                "/api/notifications/channels/",
                {"service_name": service, "kind": "webhook", "name": "hook", "url": receiver.url},
            )
            assert created.status_code == 201, created.body
            number = trigger(client, service, "disk full").json_body["id"]
            arm()
            # Runs follow each other (a timer, the stream); a lease left by a failed run expires.
            for _ in range(CLIENT_RETRIES):
                with_retries(lambda: post(client, "/api/notifications/deliver/"))
                with faults.paused():
                    if [d.state for d in Delivery.query(number)] == ["delivered"]:
                        break
                manual_clock.advance(seconds=61)
            faults.disarm()
            post(client, "/api/notifications/deliver/")
            mine = [r for r in receiver.accepted() if r.json()["incident"]["id"] == number]
            assert [r.json()["event"] for r in mine] == ["incident.triggered"]
            assert [d.state for d in Delivery.query(number)] == ["delivered"]
            assert kinds_in(client, number)["notification"] == 1

        assert every_position(faults, kind, repeat, scenario) >= 3


@pytest.mark.parametrize("repeat", REPEATS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_new_api_key_is_made_once_and_its_token_works(client, faults, kind, repeat):
    def scenario(position, arm):
        arm()
        body = {"name": f"ci {position}", "role": "responder", "user": f"user-{position}"}
        statuses, answer = with_retries(lambda: post(client, "/api/keys/", body))
        faults.disarm()
        assert answer.status_code == 201, (statuses, answer.body)
        made = [key for key in get_json(client, "/api/keys/?limit=100")["keys"] if key["name"] == body["name"]]
        assert [key["id"] for key in made] == [answer.json_body["id"]]
        me = client.with_token(answer.json_body["token"]).http.get("/api/me")
        assert (me.status_code, me.json_body["user"]) == (200, body["user"])

    assert every_position(faults, kind, repeat, scenario) >= 2


# --- chosen sequences: an unknown outcome followed by other failures or other writers -------------

LOST_ON_EVERY_TRY = [("TransactWriteItems", "lost")] * BOTOCORE_ATTEMPTS


def test_a_commit_whose_answer_was_lost_and_then_throttled_answers_its_success(client, faults, monkeypatch):
    # The first attempt committed but no answer came back; every later attempt is
    # throttled. The later failures say nothing of the first: it is read back.
    throttled = [("TransactWriteItems", "throttled")] * (3 * BOTOCORE_ATTEMPTS)
    monkeypatch.setattr(dynamo, "interceptor", Script(LOST_ON_EVERY_TRY + throttled))
    opened = trigger(client, "svc", "disk full")
    assert opened.status_code == 201, opened.body
    [stored] = incidents_of(client, "svc")
    assert (stored["id"], stored["alert_count"]) == (opened.json_body["id"], 1)

    monkeypatch.setattr(dynamo, "interceptor", None)
    acknowledge(client, stored["id"])
    monkeypatch.setattr(dynamo, "interceptor", Script(LOST_ON_EVERY_TRY + throttled))
    resolved = resolve(client, stored["id"])
    assert resolved.status_code == 200, resolved.body
    assert kinds_in(client, stored["id"])["resolved"] == 1


def test_a_later_attempt_keeps_the_token_of_one_whose_answer_was_lost(client, faults, monkeypatch):
    # Lost, then throttled once: the third attempt must not be a new request, or its
    # dedup condition would fail against this request's own incident and fold into it.
    steps = LOST_ON_EVERY_TRY + [("TransactWriteItems", "throttled")] * BOTOCORE_ATTEMPTS
    monkeypatch.setattr(dynamo, "interceptor", Script(steps))
    opened = trigger(client, "svc", "disk full")
    assert opened.status_code == 201, opened.body
    assert incidents_of(client, "svc")[0]["alert_count"] == 1


def _meanwhile(number: int, model=Incident, **attributes):
    """Another client's write to the incident (or to its item of `model`, keyed by the
    incident), landing in the gap after a lost answer."""

    def write():
        with dynamo.interceptor_off():
            model(number).update(actions=[getattr(model, name).set(value) for name, value in attributes.items()])

    return write


def test_a_count_resent_after_a_lost_answer_is_not_applied_again_over_another_alert(client, faults, monkeypatch):
    number = trigger(client, "svc", "disk full").json_body["id"]
    # The other alert's count lands on the tally between this one's lost answer and
    # botocore's resend: 2 folded (this alert's, lost, and the other's), 3 alerts.
    other = _meanwhile(number, AlertTally, folded=2, request="another-request")
    steps = [("UpdateItem", "pass"), ("TransactWriteItems", "lost")]
    monkeypatch.setattr(dynamo, "interceptor", Script(steps, between=other))
    folded = trigger(client, "svc", "disk full")
    assert folded.status_code == 200, folded.body
    assert folded.json_body["alert_count"] == 3
    assert incidents_of(client, "svc")[0]["alert_count"] == 3


def test_a_reassignment_resent_after_a_lost_answer_does_not_undo_a_later_one(client, faults, monkeypatch):
    number = trigger(client, "svc", "disk full").json_body["id"]
    monkeypatch.setattr(
        dynamo,
        "interceptor",
        Script([("TransactWriteItems", "lost")], between=_meanwhile(number, assigned_to="carol")),
    )
    answer = post(client, f"/api/incidents/{number}/reassign/", {"user": "bob"})
    assert answer.status_code == 200, answer.body
    assert get_incident(client, number)["assigned_to"] == "carol"
    assert kinds_in(client, number)["reassigned"] == 1


def test_a_counted_alert_whose_count_cannot_be_read_back_answers_200_with_a_null_count(client, faults, monkeypatch):
    number = trigger(client, "svc", "disk full").json_body["id"]
    # The count commits; then every read of it fails, the product's retries included.
    unreadable = [("TransactWriteItems", "pass")] + [("GetItem", "internal")] * (4 * BOTOCORE_ATTEMPTS)
    monkeypatch.setattr(dynamo, "interceptor", Script(unreadable))
    folded = trigger(client, "svc", "disk full")
    monkeypatch.setattr(dynamo, "interceptor", None)
    # Not a 503: the caller would send the alert again and it would be counted twice.
    assert folded.status_code == 200, folded.body
    assert (folded.json_body["id"], folded.json_body["alert_count"]) == (number, None)
    assert get_incident(client, number)["alert_count"] == 2
