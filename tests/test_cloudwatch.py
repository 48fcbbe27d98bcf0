"""CloudWatch alarms through SNS: the Lambda subscription and the HTTPS endpoint,
with messages signed here by a test key whose certificate the injected fetcher
serves for an SNS URL (nothing reaches the network)."""

import base64
import json
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from chalicelib import clock, config
from chalicelib.errors import Busy
from chalicelib.integration import cloudwatch, sns
from chalicelib.models import AlarmState, Dedup, SnsCertificate, SnsMessage
from tests.flows import (
    Lines,
    answer_lost,
    dynamodb_fails,
    get_incident,
    list_incidents,
    right_after,
    run_threads,
    writes,
)

PATH = "/api/integrations/cloudwatch"
TOPIC = "arn:aws:sns:us-east-1:123456789012:oncall-alarms"
CERT_FILE = "SimpleNotificationService-6aad65c2f9911b05cd53efda11f913f9.pem"
CERT_URL = f"https://sns.us-east-1.amazonaws.com/{CERT_FILE}"
ALARM_ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:payments-api-5xx"
SHARED = Path(__file__).resolve().parent / "wire_formats"

# The message of tests/wire_formats/cloudwatch-alarm-sns-*.json (checked below).
ALARM = {
    "AlarmName": "payments-api-5xx",
    "AlarmDescription": "5xx errors on the payments API",
    "AWSAccountId": "123456789012",
    "AlarmConfigurationUpdatedTimestamp": "2026-11-20T10:00:00.000+0000",
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 1 datapoint [12.0 (26/11/26 08:41:00)] was greater than or equal to "
    "the threshold (5.0).",
    "StateChangeTime": "2026-11-26T08:42:00.006+0000",
    "Region": "US East (N. Virginia)",
    "AlarmArn": ALARM_ARN,
    "OldStateValue": "OK",
    "OKActions": [TOPIC],
    "AlarmActions": [TOPIC],
    "InsufficientDataActions": [],
    "Trigger": {
        "MetricName": "5XXError",
        "Namespace": "AWS/ApiGateway",
        "StatisticType": "Statistic",
        "Statistic": "SUM",
        "Unit": None,
        "Dimensions": [{"value": "payments-api", "name": "ApiName"}],
        "Period": 60,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 5.0,
        "TreatMissingData": "missing",
        "EvaluateLowSampleCountPercentile": "",
    },
}
OK_REASON = "Threshold Crossed: 1 datapoint [0.0] was not greater than or equal to the threshold (5.0)."


def alarm(state="ALARM", **fields) -> dict:
    reason = OK_REASON if state == "OK" else ALARM["NewStateReason"]
    old = "ALARM" if state == "OK" else "OK"
    return {**ALARM, "NewStateValue": state, "NewStateReason": reason, "OldStateValue": old, **fields}


def _key_and_certificate():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)


KEY, CERT_PEM = _key_and_certificate()
OTHER_KEY, _ = _key_and_certificate()
SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def sign(message: dict, version: str = "1", key=KEY, cert_url: str = CERT_URL) -> dict:
    message = {**message, "SignatureVersion": version, "SigningCertURL": cert_url}
    text = "".join(f"{name}\n{message[name]}\n" for name in SIGNED[message["Type"]] if message.get(name) is not None)
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    message["Signature"] = base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), digest)).decode()
    return message


def now() -> str:
    return clock.iso(clock.now())


def notification(body: dict | None = None, topic: str = TOPIC, number: int = 1, sent: str | None = None) -> dict:
    body = body or alarm()
    return {
        "Type": "Notification",
        "MessageId": f"0d6a1f3e-7c55-5a3b-9b1e-{number:012d}",
        "TopicArn": topic,
        "Subject": f'{body.get("NewStateValue")}: "{body.get("AlarmName")}" in US East (N. Virginia)',
        "Message": json.dumps(body),
        "Timestamp": now() if sent is None else sent,
        "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic}:1234",
        "MessageAttributes": {},
    }


def subscription(kind: str = "SubscriptionConfirmation", subscribe_url: str | None = None) -> dict:
    return {
        "Type": kind,
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37-example-token",
        "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.",
        "SubscribeURL": subscribe_url
        or f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37",
        "Timestamp": now(),
    }


class FakeNetwork:
    """The fetcher: the test certificate at CERT_URL, an answer to SubscribeURLs, and
    whatever a test puts in `pages` (what someone else's host would serve)."""

    def __init__(self) -> None:
        self.fetched: list[str] = []
        self.pages: dict[str, bytes] = {}
        self.down = False

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        if self.down:
            raise OSError("network unreachable")
        if url in self.pages:
            return self.pages[url]
        if url == CERT_URL:
            return CERT_PEM
        if "Action=ConfirmSubscription" in url:
            return b"<ConfirmSubscriptionResponse/>"
        raise OSError(f"unexpected fetch of {url}")


@contextmanager
def configured(**env):
    """Settings from these environment variables for the block (cached before any
    Lambda invocation, which runs with the stage's environment)."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    config.settings.cache_clear()
    try:
        config.settings()
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        config.settings.cache_clear()


@contextmanager
def sns_trusted(**env):
    """TOPIC allowed, alarms named payments-* on service payments, the fake network."""
    network = FakeNetwork()
    sns.use_fetcher(network)
    try:
        with configured(ONCALL_SNS_TOPIC_ARNS=TOPIC, ONCALL_CLOUDWATCH_SERVICES="payments-=payments", **env):
            yield network
    finally:
        sns.use_fetcher(None)


def certificate_stored(url: str = CERT_URL, pem: bytes = CERT_PEM) -> None:
    """As once any process has verified a message with the certificate at `url`. A test
    of what a message writes starts from here: the certificate is stored only once."""
    SnsCertificate(url, pem=pem.decode(), stored_at=clock.now()).save()


def signed_alarm(number: int) -> dict:
    """A valid request for tests/test_access.py: a new alarm, signed."""
    arn = f"{ALARM_ARN}-{number}"
    return sign(notification(alarm(AlarmName=f"payments-matrix-{number}", AlarmArn=arn), number=number))


@pytest.fixture
def network():
    with sns_trusted() as fake:
        yield fake


def post(client, message, *, raw: bytes | None = None, query: str = "", headers: dict | None = None):
    body = raw if raw is not None else json.dumps(message).encode()
    sent = {"Content-Type": "text/plain; charset=UTF-8"}
    if message is not None and raw is None:
        sent["x-amz-sns-message-type"] = message["Type"]
    sent.update(headers or {})
    return client.anonymous.request("POST", PATH + "/" + query, headers=sent, body=body)


def lambda_event(body: dict, topic: str = TOPIC, number: int = 1) -> dict:
    message = notification(body, topic=topic, number=number)
    message.pop("UnsubscribeURL")
    record_sns = {**message, "SignatureVersion": "1", "Signature": "EXAMPLE"}
    record_sns["SigningCertUrl"] = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-example.pem"
    record_sns["UnsubscribeUrl"] = (
        f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC}:1234"
    )
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{TOPIC}:1234",
                "Sns": record_sns,
            }
        ]
    }


# --- the Lambda subscription ------------------------------------------------------------------


def test_lambda_alarm_opens_folds_and_ok_resolves(client, network):
    first = client.lambda_.invoke("cloudwatch_alarms", lambda_event(alarm())).payload
    assert first == [{"action": "triggered", "incident_id": first[0]["incident_id"]}]
    incident = get_incident(client, first[0]["incident_id"])
    assert incident["service_name"] == "payments"
    assert incident["title"] == f"payments-api-5xx: {ALARM['NewStateReason']}"
    assert incident["severity"] == "critical" and incident["dedup_key"] == ALARM_ARN
    assert incident["source"] == "cloudwatch: US East (N. Virginia)"
    assert incident["details"]["Trigger"] == ALARM["Trigger"] and incident["details"]["TopicArn"] == TOPIC
    assert incident["created_by"] == "cloudwatch (oncall-alarms)"

    again = client.lambda_.invoke("cloudwatch_alarms", lambda_event(alarm(), number=2)).payload
    assert again == [{"action": "folded", "incident_id": incident["id"]}]
    ok = client.lambda_.invoke("cloudwatch_alarms", lambda_event(alarm("OK"), number=3)).payload
    assert ok == [{"action": "resolved", "incident_id": incident["id"]}]
    resolved = get_incident(client, incident["id"])
    assert resolved["status"] == "RESOLVED" and resolved["alert_count"] == 2
    assert client.lambda_.invoke("cloudwatch_alarms", lambda_event(alarm("OK"), number=4)).payload == [
        {"action": "nothing", "incident_id": None}
    ]
    assert network.fetched == []  # the Lambda path trusts its subscription, fetches nothing


def test_lambda_with_chalices_generated_event_and_the_default_service(client):
    event = client.events.generate_sns_event(message=json.dumps(alarm(AlarmName="disk-full")), subject="ALARM")
    [result] = client.lambda_.invoke("cloudwatch_alarms", event).payload
    assert get_incident(client, result["incident_id"])["service_name"] == "cloudwatch"


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": "nope"},
        {"Records": [{"nothing": 1}]},
        {"Records": [{"Sns": {"Type": "Notification", "Message": "not json"}}]},
        {"Records": [{"Sns": {"Type": "Notification", "Message": json.dumps({"AlarmName": "x"})}}]},
        {"Records": [{"Sns": {"Type": "Notification", "Message": json.dumps(alarm(NewStateValue="PANIC"))}}]},
        {"Records": [{"Sns": {"Type": "Notification", "Message": 42}}]},
    ],
)
def test_lambda_skips_malformed_records_without_raising(client, requests_made, event):
    with requests_made.measure() as calls:
        assert client.lambda_.invoke("cloudwatch_alarms", event).payload == []
    assert writes(calls) == {}


def test_lambda_processes_the_good_records_of_a_mixed_batch(client):
    event = lambda_event(alarm())
    event["Records"].insert(0, {"Sns": {"Type": "Notification", "Message": "{"}})
    assert [r["action"] for r in client.lambda_.invoke("cloudwatch_alarms", event).payload] == ["triggered"]


def test_lambda_raises_on_a_database_failure_so_lambda_retries(client, monkeypatch):
    from pynamodb.exceptions import PutError

    from chalicelib.incident import incidents

    def broken(*args, **kwargs):
        raise PutError("DynamoDB is down")

    monkeypatch.setattr(incidents, "trigger", broken)
    with pytest.raises(PutError):
        client.lambda_.invoke("cloudwatch_alarms", lambda_event(alarm()))


# --- the HTTPS subscription ---------------------------------------------------------------------


def test_https_alarm_opens_folds_and_ok_resolves_with_both_signature_versions(client, network, requests_made):
    first = post(client, sign(notification(), "1"))
    assert first.status_code == 200, first.body
    assert first.json_body["action"] == "triggered" and first.json_body["message_type"] == "Notification"
    incident_id = first.json_body["incident_id"]
    again = post(client, sign(notification(number=2), "2"))
    assert again.json_body == {"message_type": "Notification", "action": "folded", "incident_id": incident_id}
    ok = post(client, sign(notification(alarm("OK"), number=3), "2"))
    assert ok.json_body["action"] == "resolved" and ok.json_body["incident_id"] == incident_id
    incident = get_incident(client, incident_id)
    assert (incident["status"], incident["alert_count"], incident["service_name"]) == ("RESOLVED", 2, "payments")
    assert network.fetched == [CERT_URL]  # fetched once, then cached


@pytest.mark.parametrize("query", ["?service_name=billing", "?service_name=", "?other=1&service_name=auth"])
def test_the_subscription_url_never_chooses_the_service(client, network, requests_made, query):
    message = sign(notification())
    with requests_made.measure() as calls:
        response = post(client, message, query=query)
    assert response.status_code == 400 and response.json_body["field"] == "service_name", response.body
    assert "ONCALL_CLOUDWATCH_TOPIC_SERVICES" in response.json_body["error"]
    assert writes(calls) == {} and network.fetched == []
    # The same message without it pages the alarm's own service.
    response = post(client, message)
    assert get_incident(client, response.json_body["incident_id"])["service_name"] == "payments"


def test_the_alarm_prefix_then_the_topic_then_the_default_choose_the_service(client, network):
    unmapped = "arn:aws:sns:us-east-1:123456789012:unmapped"
    with configured(
        ONCALL_SNS_TOPIC_ARNS=f"{TOPIC} {unmapped}",
        ONCALL_CLOUDWATCH_TOPIC_SERVICES=f"{TOPIC}=checkout, arn:aws:sns:us-east-1:123456789012:other=search",
    ):
        cases = [
            (alarm(), TOPIC, "payments"),
            (alarm(AlarmName="disk-full", AlarmArn=ALARM_ARN + "-disk"), TOPIC, "checkout"),
            (alarm(AlarmName="queue-depth", AlarmArn=ALARM_ARN + "-queue"), unmapped, "cloudwatch"),
        ]
        for number, (body, topic, service) in enumerate(cases, start=1):
            response = post(client, sign(notification(body, topic=topic, number=number)))
            assert get_incident(client, response.json_body["incident_id"])["service_name"] == service
            event = lambda_event(body, topic=topic, number=10 + number)
            [result] = client.lambda_.invoke("cloudwatch_alarms", event).payload
            assert result["action"] == "folded", "the Lambda path chose another service"


@pytest.mark.parametrize(
    "value",
    [
        "checkout",
        f"{TOPIC}=",
        "arn:aws:sns:s3:123456789012:alarms=checkout",
        f"{TOPIC}=checkout,{TOPIC}=search",
        f"{TOPIC}={'x' * 129}",
    ],
)
def test_a_bad_topic_mapping_is_refused_at_start(value):
    with pytest.raises(RuntimeError, match="ONCALL_CLOUDWATCH_TOPIC_SERVICES"):
        with configured(ONCALL_CLOUDWATCH_TOPIC_SERVICES=value):
            pass
    config.settings.cache_clear()


def test_the_lambda_spelling_of_the_certificate_url_is_read_too(client, network):
    message = sign(notification())
    message["SigningCertUrl"] = message.pop("SigningCertURL")
    assert post(client, message).json_body["action"] == "triggered"


def test_subscription_confirmation_visits_the_subscribe_url(client, network, requests_made):
    message = sign(subscription())
    with requests_made.measure() as calls:
        response = post(client, message)
    assert response.status_code == 200, response.body
    assert response.json_body == {
        "message_type": "SubscriptionConfirmation",
        "action": "confirmed",
        "incident_id": None,
    }
    assert network.fetched == [CERT_URL, message["SubscribeURL"]]
    # Confirming is not recorded; the certificate that verified it is stored.
    assert writes(calls) == {"PutItem": 1} and SnsCertificate.get(CERT_URL).pem.encode() == CERT_PEM
    unsubscribed = post(client, sign(subscription("UnsubscribeConfirmation"), "2"))
    assert unsubscribed.json_body["action"] == "nothing"


def tampered(message: dict) -> dict:
    return {**message, "Message": message["Message"].replace("payments-api-5xx", "payments-api-4xx")}


def relabelled(message: dict) -> dict:
    return {**message, "SignatureVersion": "2"}


REFUSED = {
    "tampered message": (lambda: tampered(sign(notification())), 403, "Signature"),
    "signed by another key": (lambda: sign(notification(), key=OTHER_KEY), 403, "Signature"),
    "v1 signature sent as v2": (lambda: relabelled(sign(notification(), "1")), 403, "Signature"),
    "signature version 3": (lambda: {**sign(notification()), "SignatureVersion": "3"}, 400, "SignatureVersion"),
    "signature not base64": (lambda: {**sign(notification()), "Signature": "!!!"}, 403, "Signature"),
    "cert on another host": (lambda: sign(notification(), cert_url="https://evil.example/sns.pem"), 403, None),
    "cert on a look-alike host": (
        lambda: sign(notification(), cert_url="https://sns.us-east-1.amazonaws.com.evil.example/c.pem"),
        403,
        None,
    ),
    "cert behind userinfo": (
        lambda: sign(notification(), cert_url="https://sns.us-east-1.amazonaws.com@evil.example/c.pem"),
        403,
        None,
    ),
    "cert over http": (lambda: sign(notification(), cert_url=CERT_URL.replace("https", "http")), 403, None),
    "cert on another port": (
        lambda: sign(notification(), cert_url=CERT_URL.replace(".com/", ".com:8443/")),
        403,
        None,
    ),
    "unknown topic": (
        lambda: sign(notification(topic="arn:aws:sns:us-east-1:999999999999:theirs")),
        403,
        "TopicArn",
    ),
    "subscribe URL elsewhere": (
        lambda: sign(subscription(subscribe_url=f"https://evil.example/?TopicArn={TOPIC}")),
        403,
        "SubscribeURL",
    ),
    "subscribe URL of another topic": (
        lambda: sign(subscription(subscribe_url="https://sns.us-east-1.amazonaws.com/?TopicArn=arn:aws:sns:x")),
        403,
        "SubscribeURL",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_untrusted_messages_are_refused_and_write_nothing(client, network, requests_made, case):
    make, status, field = REFUSED[case]
    certificate_stored()
    with requests_made.measure() as calls:
        response = post(client, make())
    assert response.status_code == status, response.body
    assert set(response.json_body) <= {"error", "code", "field"}
    assert response.json_body["code"] == ("forbidden" if status == 403 else "invalid_input")
    if field:
        assert response.json_body["field"] == field
    assert writes(calls) == {}
    assert all(url == CERT_URL for url in network.fetched)  # nothing but the SNS certificate is ever fetched
    assert list_incidents(client)["incidents"] == []


# Hosts and paths that are not SNS's certificate in the topic's region (us-east-1). Each
# is served the certificate of the key that signed, as its owner would serve it.
NOT_SNS_CERTIFICATES = {
    "an S3 bucket named sns": "https://sns.s3.amazonaws.com/cert.pem",
    "an S3 bucket named sns, SNS's file name": f"https://sns.s3.amazonaws.com/{CERT_FILE}",
    "another region": f"https://sns.eu-west-1.amazonaws.com/{CERT_FILE}",
    "the China domain for a us region": f"https://sns.us-east-1.amazonaws.com.cn/{CERT_FILE}",
    "another file on the SNS host": "https://sns.us-east-1.amazonaws.com/cert.pem",
    "a folder on the SNS host": f"https://sns.us-east-1.amazonaws.com/uploads/{CERT_FILE}",
    "a query": f"{CERT_URL}?download=1",
    "a fragment": f"{CERT_URL}#key",
    "an explicit port": CERT_URL.replace(".com/", ".com:443/"),
    "userinfo": CERT_URL.replace("https://", "https://sns@"),
    "upper-case hex": CERT_URL.replace("6aad65c2f9", "6AAD65C2F9"),
    "a trailing newline": CERT_URL + "\n",
}


@pytest.mark.parametrize("case", NOT_SNS_CERTIFICATES)
def test_only_sns_certificates_in_the_topics_region_are_fetched(client, network, requests_made, case):
    url = NOT_SNS_CERTIFICATES[case]
    network.pages[url] = CERT_PEM
    with requests_made.measure() as calls:
        response = post(client, sign(notification(), cert_url=url))
    assert response.status_code == 403, response.body
    assert response.json_body["field"] == "SigningCertURL"
    assert "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-<hex>.pem" in response.json_body["error"]
    assert network.fetched == [] and writes(calls) == {}


@pytest.mark.parametrize(
    "topic, cert_url",
    [
        ("arn:aws-cn:sns:cn-north-1:123456789012:alarms", f"https://sns.cn-north-1.amazonaws.com.cn/{CERT_FILE}"),
        (
            "arn:aws-us-gov:sns:us-gov-west-1:123456789012:alarms",
            f"https://sns.us-gov-west-1.amazonaws.com/{CERT_FILE}",
        ),
    ],
)
def test_china_and_govcloud_topics_are_verified_on_their_own_sns_host(client, network, topic, cert_url):
    network.pages[cert_url] = CERT_PEM
    with configured(ONCALL_SNS_TOPIC_ARNS=topic):
        response = post(client, sign(notification(topic=topic), cert_url=cert_url))
        assert response.status_code == 200, response.body
        # The same certificate file under the other domain is not SNS's.
        other = cert_url.replace(".com.cn/", ".com/") if ".cn/" in cert_url else cert_url.replace(".com/", ".com.cn/")
        network.pages[other] = CERT_PEM
        refused = post(client, sign(notification(topic=topic, number=2), cert_url=other))
    assert refused.status_code == 403 and refused.json_body["field"] == "SigningCertURL"
    assert network.fetched == [cert_url]


CONFIRM = f"Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37"
NOT_SNS_SUBSCRIBE_URLS = {
    "an S3 bucket named sns": f"https://sns.s3.amazonaws.com/?{CONFIRM}",
    "another region": f"https://sns.eu-west-1.amazonaws.com/?{CONFIRM}",
    "a path": f"https://sns.us-east-1.amazonaws.com/confirm?{CONFIRM}",
    "a port": f"https://sns.us-east-1.amazonaws.com:8443/?{CONFIRM}",
    "userinfo": f"https://me@sns.us-east-1.amazonaws.com/?{CONFIRM}",
    "a fragment": f"https://sns.us-east-1.amazonaws.com/?{CONFIRM}#x",
    "another action": f"https://sns.us-east-1.amazonaws.com/?{CONFIRM.replace('ConfirmSubscription', 'Publish')}",
    "the topic twice": f"https://sns.us-east-1.amazonaws.com/?{CONFIRM}&TopicArn={TOPIC}",
    "no token": f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}",
}


@pytest.mark.parametrize("case", NOT_SNS_SUBSCRIBE_URLS)
def test_only_sns_confirmations_in_the_topics_region_are_visited(client, network, case):
    url = NOT_SNS_SUBSCRIBE_URLS[case]
    response = post(client, sign(subscription(subscribe_url=url)))
    assert response.status_code == 403, response.body
    assert response.json_body["field"] == "SubscribeURL"
    assert url not in network.fetched


@pytest.mark.parametrize(
    "topic",
    [
        "arn:aws:sns:s3:123456789012:alarms",
        "arn:aws:sns:us-east-1:123456789012:alarms?x",
        "arn:aws:sns:cn-north-1:123456789012:alarms",
        "arn:aws-cn:sns:us-east-1:123456789012:alarms",
        "alarms",
    ],
)
def test_a_listed_topic_must_be_an_arn_in_a_real_region(topic):
    with pytest.raises(RuntimeError, match="ONCALL_SNS_TOPIC_ARNS"):
        with configured(ONCALL_SNS_TOPIC_ARNS=f"{TOPIC},{topic}"):
            pass
    config.settings.cache_clear()


def test_no_topic_is_accepted_until_one_is_configured(client, network):
    with configured(ONCALL_SNS_TOPIC_ARNS=""):
        response = post(client, sign(notification()))
    assert response.status_code == 403 and "ONCALL_SNS_TOPIC_ARNS" in response.json_body["error"]
    assert network.fetched == []


def test_a_certificate_that_cannot_be_fetched_answers_503_so_sns_retries(client, network, requests_made):
    network.down = True
    with requests_made.measure() as calls:
        response = post(client, sign(notification()))
    assert response.status_code == 503 and response.json_body["code"] == "busy"
    assert int(response.headers["Retry-After"]) >= 1
    assert writes(calls) == {}


# --- replays -------------------------------------------------------------------------------------------


def test_a_replayed_alarm_from_2019_is_refused_before_anything_is_fetched(client, network, requests_made):
    with requests_made.measure() as calls:
        response = post(client, sign(notification(sent="2019-06-26T19:41:38.695Z")))
    assert response.status_code == 403 and response.json_body["field"] == "Timestamp"
    assert "2019-06-26T19:41:38.695Z" in response.json_body["error"]
    assert network.fetched == [] and writes(calls) == {}


def test_a_replayed_ok_does_not_resolve_the_open_incident(client, network, manual_clock):
    old_ok = sign(notification(alarm("OK"), number=2))
    manual_clock.advance(hours=2)
    incident_id = post(client, sign(notification())).json_body["incident_id"]
    assert post(client, old_ok).status_code == 403
    assert get_incident(client, incident_id)["status"] == "TRIGGERED"


@pytest.mark.parametrize(
    "offset, status",
    [
        (timedelta(hours=-1), 200),
        (timedelta(hours=-1, milliseconds=-1), 403),
        (timedelta(minutes=5), 200),
        (timedelta(minutes=5, milliseconds=1), 403),
    ],
)
def test_messages_are_accepted_for_an_hour_and_five_minutes_ahead(client, network, offset, status):
    sent = clock.iso(clock.now() + offset)
    response = post(client, sign(notification(sent=sent)))
    assert response.status_code == status, response.body
    if status == 403:
        assert response.json_body["field"] == "Timestamp"


@pytest.mark.parametrize(
    "timestamp",
    [
        "yesterday",
        "",
        "2026-03-01T12:00:00",
        "2026-03-01 12:00:00Z",
        "2026-03-01T12:00:00+01:00",
        "2026-02-30T12:00:00.000Z",
        "2026-03-01T12:00:00.000Z\n",
        "１２３４-03-01T12:00:00Z",
    ],
)
def test_a_timestamp_that_is_not_snss_format_is_refused_naming_it(client, network, timestamp):
    response = post(client, sign(notification(sent=timestamp)))
    assert response.status_code == 400 and response.json_body["field"] == "Timestamp", response.body
    assert network.fetched == []


def test_sns_timestamps_with_and_without_milliseconds_are_read(client, network, manual_clock):
    manual_clock.advance(seconds=0.123)
    assert post(client, sign(notification(sent="2026-03-01T12:00:00Z"))).status_code == 200
    response = post(client, sign(notification(number=2, sent="2026-03-01T11:59:59.123456Z")))
    assert response.status_code == 200


# --- each message acts once ---------------------------------------------------------------------


def test_a_message_delivered_again_answers_duplicate_and_does_nothing(client, network, requests_made):
    message = sign(notification())
    first = post(client, message)
    with requests_made.measure() as calls:
        again = post(client, message)
    assert again.status_code == 200
    assert again.json_body == {"message_type": "Notification", "action": "duplicate", "incident_id": None}
    assert writes(calls) == {"PutItem": 1}  # the claim, refused by its condition
    assert get_incident(client, first.json_body["incident_id"])["alert_count"] == 1


def test_a_replayed_ok_within_the_hour_does_not_resolve_a_later_incident(client, network, manual_clock):
    post(client, sign(notification(number=1)))
    ok = sign(notification(alarm("OK"), number=2))
    assert post(client, ok).json_body["action"] == "resolved"
    manual_clock.advance(minutes=20)
    reopened = post(client, sign(notification(number=3))).json_body
    assert reopened["action"] == "triggered"
    assert post(client, ok).json_body["action"] == "duplicate"
    assert get_incident(client, reopened["incident_id"])["status"] == "TRIGGERED"


def test_lambda_retries_of_an_event_act_once(client):
    event = lambda_event(alarm())
    [first] = client.lambda_.invoke("cloudwatch_alarms", event).payload
    assert client.lambda_.invoke("cloudwatch_alarms", event).payload == [{"action": "duplicate", "incident_id": None}]
    assert get_incident(client, first["incident_id"])["alert_count"] == 1


def test_messages_are_remembered_for_a_day(client, network):
    message = sign(notification())
    post(client, message)
    stored = SnsMessage.get(message["MessageId"], consistent_read=True)
    assert stored.expires_at == int((clock.now() + timedelta(days=1)).timestamp())
    assert (stored.claim, stored.lease_until, stored.done_at) == (None, None, clock.now())


def test_an_https_delivery_that_failed_is_acted_on_when_sns_delivers_it_again(client, network):
    message = sign(notification())
    with dynamodb_fails(Dedup, "GetItem"):
        failed = post(client, message)
    assert failed.status_code == 503 and failed.json_body["code"] == "busy"
    assert failed.headers["Retry-After"] == "5"
    again = post(client, message)
    assert again.json_body["action"] == "triggered"
    assert get_incident(client, again.json_body["incident_id"])["alert_count"] == 1


def test_a_lambda_event_that_failed_is_acted_on_when_lambda_retries_it(client):
    event = lambda_event(alarm())
    with dynamodb_fails(Dedup, "GetItem", code="ValidationException"):
        with pytest.raises(Exception, match="injected"):
            client.lambda_.invoke("cloudwatch_alarms", event)
    [retried] = client.lambda_.invoke("cloudwatch_alarms", event).payload
    assert retried["action"] == "triggered"


def deliver(message: dict) -> dict:
    """The HTTPS route's work, called directly: chalice's test client swaps os.environ
    per request, so it must not serve two requests at once."""
    return cloudwatch.receive_https(json.dumps(message).encode(), message["Type"], None)


def test_a_delivery_during_another_of_the_same_message_is_asked_to_retry(client, network):
    message = sign(notification())
    with right_after(SnsMessage, "PutItem", lambda: deliver(message)) as second:
        first = post(client, message)
    assert first.json_body["action"] == "triggered"
    assert isinstance(second["error"], Busy) and second["error"].headers == {"Retry-After": "60"}
    assert post(client, message).json_body["action"] == "duplicate"
    assert get_incident(client, first.json_body["incident_id"])["alert_count"] == 1


def test_a_claim_whose_answer_was_lost_is_still_this_deliverys(client, network):
    with answer_lost(SnsMessage, "PutItem"):
        response = post(client, sign(notification()))
    assert response.status_code == 200 and response.json_body["action"] == "triggered", response.body


def test_a_claim_whose_holder_died_lapses_with_its_lease(client, network, manual_clock):
    message = sign(notification())
    with dynamodb_fails(SnsMessage, "DeleteItem"), dynamodb_fails(Dedup, "GetItem"):
        # Acting fails and so does releasing the claim: it stays, as if the holder died.
        assert post(client, message).status_code == 503
    manual_clock.advance(seconds=59)
    held = post(client, message)
    assert held.status_code == 503 and held.headers["Retry-After"] == "1"
    manual_clock.advance(seconds=1)
    assert post(client, message).json_body["action"] == "triggered"


def test_concurrent_deliveries_of_one_message_act_once(client, network):
    message = sign(notification())
    results, errors = run_threads([lambda: deliver(message) for _ in range(8)])
    outcomes = Counter(result["action"] for result in results if result is not None)
    assert outcomes["triggered"] == 1 and set(outcomes) <= {"triggered", "duplicate"}, outcomes
    assert all(isinstance(error, Busy) for error in errors if error is not None), errors
    [incident] = list_incidents(client)["incidents"]
    assert incident["alert_count"] == 1


# --- what forged messages may cost ------------------------------------------------------------

OTHER_CERT_URL = CERT_URL.replace("6aad65c2f9911b05", "0000000000000000")


@pytest.mark.parametrize(
    "certificate, status",
    [("SNS's certificate", 403), ("a 404 on the SNS host", 503), ("not a certificate", 403)],
)
def test_forty_forged_posts_cost_at_most_one_certificate_fetch(client, network, requests_made, certificate, status):
    url = CERT_URL if certificate == "SNS's certificate" else OTHER_CERT_URL
    if certificate == "not a certificate":
        network.pages[url] = b"<Error><Code>AccessDenied</Code></Error>"
    with requests_made.measure() as calls:
        answers = [post(client, sign(notification(number=n), key=OTHER_KEY, cert_url=url)) for n in range(40)]
    assert {answer.status_code for answer in answers} == {status}
    assert network.fetched == [url]
    assert writes(calls) == {}


def test_requests_that_arrive_during_a_fetch_wait_for_it_instead_of_fetching_again():
    entered = [threading.Event(), threading.Event()]
    release = threading.Event()
    calls = []

    def slow_network(url: str) -> bytes:
        entered[len(calls)].set()
        calls.append(url)
        release.wait(10)
        return CERT_PEM

    sns.use_fetcher(slow_network)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            first = pool.submit(sns.certificate_key, CERT_URL)
            assert entered[0].wait(10)
            later = [pool.submit(sns.certificate_key, CERT_URL) for _ in range(3)]
            # Were they to fetch too, the second fetch would start at once.
            assert not entered[1].wait(0.5)
            release.set()
            keys = {future.result(10).public_numbers() for future in [first, *later]}
    finally:
        sns.use_fetcher(None)
    assert calls == [CERT_URL] and keys == {KEY.public_key().public_numbers()}


def test_a_certificate_that_failed_to_fetch_is_tried_again_after_a_while(client, network, manual_clock):
    network.down = True
    first = post(client, sign(notification()))
    assert first.status_code == 503 and first.headers["Retry-After"] == str(sns.UNREACHABLE_SECONDS)
    manual_clock.advance(seconds=5)
    second = post(client, sign(notification(number=2)))
    assert second.status_code == 503 and second.headers["Retry-After"] == str(sns.UNREACHABLE_SECONDS - 5)
    assert network.fetched == [CERT_URL]
    network.down = False
    manual_clock.advance(seconds=sns.UNREACHABLE_SECONDS - 5)
    third = post(client, sign(notification(number=3)))
    assert third.status_code == 200 and third.json_body["action"] == "triggered"
    assert network.fetched == [CERT_URL, CERT_URL]


def sns_url(n: int) -> str:
    return f"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-{n:032x}.pem"


def forged(n: int, url: str | None = None) -> dict:
    """What anyone who knows the topic can post: any certificate URL of SNS's shape, any signature."""
    return {
        **notification(number=1000 + n),
        "SignatureVersion": "1",
        "Signature": "AAAA",
        "SigningCertURL": url or sns_url(n),
    }


# The certificate SNS rotates to: no process has fetched it yet.
ROTATED_URL = sns_url(0x0123456789ABCDEF0123456789ABCDEF)


@pytest.mark.parametrize("posts", [5, 40])
def test_forged_posts_do_not_keep_sns_new_certificate_from_being_fetched(client, network, requests_made, posts):
    network.pages[ROTATED_URL] = CERT_PEM
    with requests_made.measure() as calls:
        refused = [post(client, forged(n)) for n in range(posts)]
    assert {answer.status_code for answer in refused} == {503}
    assert writes(calls) == {}
    genuine = post(client, sign(notification(), cert_url=ROTATED_URL))
    assert genuine.status_code == 200 and genuine.json_body["action"] == "triggered", genuine.body
    # One fetch per URL named, never more.
    assert len(network.fetched) == posts + 1 and network.fetched[-1] == ROTATED_URL


def test_a_certificate_any_process_verified_a_message_with_is_read_not_fetched(client, network):
    first = post(client, sign(notification()))
    assert first.json_body["action"] == "triggered" and network.fetched == [CERT_URL]
    # A new process (a cold start): nothing cached, SNS's host out of reach, a flood under way.
    sns.forget_certificates()
    network.down = True
    for n in range(40):
        post(client, forged(n))
    again = post(client, sign(notification(alarm("OK"), number=2)))
    assert again.json_body == {"message_type": "Notification", "action": "resolved", "incident_id": 1}, again.body
    assert network.fetched.count(CERT_URL) == 1


def test_only_a_certificate_that_verified_a_message_is_stored(client, network):
    for n in range(3):
        assert post(client, sign(notification(number=n), key=OTHER_KEY)).status_code == 403
    assert network.fetched == [CERT_URL]
    with pytest.raises(SnsCertificate.DoesNotExist):
        SnsCertificate.get(CERT_URL)
    assert post(client, sign(notification(number=9))).json_body["action"] == "triggered"
    assert (
        x509.load_pem_x509_certificate(SnsCertificate.get(CERT_URL).pem.encode()).public_bytes(
            serialization.Encoding.PEM
        )
        == CERT_PEM
    )


def test_a_forged_flood_costs_one_fetch_per_url_it_names(client, network, manual_clock):
    urls = [sns_url(n) for n in range(5)]
    answers = [post(client, forged(n, urls[n % 5])) for n in range(40)]
    assert {answer.status_code for answer in answers} == {503}
    assert sorted(network.fetched) == sorted(urls)
    manual_clock.advance(seconds=sns.UNREACHABLE_SECONDS)
    for n in range(40):
        post(client, forged(n, urls[n % 5]))
    assert len(network.fetched) == 10


def test_fetches_run_one_at_a_time_in_the_order_they_were_asked_for():
    urls = [sns_url(n) for n in range(4)]
    lock = threading.Lock()
    started, running, most = [], [0], [0]
    release = threading.Event()

    def slow_network(url: str) -> bytes:
        with lock:
            started.append(url)
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(10)
        with lock:
            running[0] -= 1
        return CERT_PEM

    def waiting() -> int:
        with sns._certificates._turns._lock:
            return len(sns._certificates._turns._waiting)

    sns.use_fetcher(slow_network)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(sns.certificate_key, urls[0])]
            for queued, url in enumerate(urls[1:], start=1):
                while len(started) + waiting() < queued:
                    time.sleep(0.01)
                futures.append(pool.submit(sns.certificate_key, url))
            while waiting() < 3:
                time.sleep(0.01)
            release.set()
            for future in futures:
                future.result(10)
    finally:
        sns.use_fetcher(None)
    assert started == urls and most[0] == 1


MALFORMED = {
    "not JSON": b"{not json",
    "a JSON array": b"[]",
    "empty": b"",
    "no signature": json.dumps({k: v for k, v in sign(notification()).items() if k != "Signature"}).encode(),
    "no certificate URL": json.dumps({k: v for k, v in sign(notification()).items() if k != "SigningCertURL"}).encode(),
    "unknown type": json.dumps({**sign(notification()), "Type": "Other"}).encode(),
    "confirmation without token": json.dumps({k: v for k, v in subscription().items() if k != "Token"}).encode(),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_envelopes_answer_400_and_write_nothing(client, network, requests_made, case):
    with requests_made.measure() as calls:
        response = post(client, None, raw=MALFORMED[case])
    assert response.status_code == 400, response.body
    assert response.json_body["code"] == "invalid_input"
    assert writes(calls) == {}


@pytest.mark.parametrize(
    "message, field",
    [
        ("not json", "Message"),
        (json.dumps(["a"]), "Message"),
        (json.dumps({**ALARM, "AlarmName": None}), "Message.AlarmName"),
        (json.dumps({k: v for k, v in ALARM.items() if k != "AlarmArn"}), "Message.AlarmArn"),
        (json.dumps({**ALARM, "NewStateValue": "PANIC"}), "Message.NewStateValue"),
    ],
)
def test_signed_but_malformed_alarms_answer_400_and_write_nothing(client, network, requests_made, message, field):
    certificate_stored()
    with requests_made.measure() as calls:
        response = post(client, sign({**notification(), "Message": message}))
    assert response.status_code == 400 and response.json_body["field"] == field, response.body
    assert writes(calls) == {}


def test_a_message_type_header_that_disagrees_is_refused(client, network):
    response = post(client, sign(notification()), headers={"x-amz-sns-message-type": "SubscriptionConfirmation"})
    assert response.status_code == 400 and response.json_body["field"] == "x-amz-sns-message-type"


# --- state changes in the order they happened -----------------------------------------------------


def changed(state: str, seconds_ago: float, **fields) -> dict:
    """The alarm as CloudWatch sends it when it changed to `state` that long ago."""
    instant = clock.now() - timedelta(seconds=seconds_ago)
    text = instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}+0000"
    return alarm(state, StateChangeTime=text, **fields)


class Ways:
    """The HTTPS endpoint and the Lambda subscription, with one face: the outcome of
    a message, or the error a failed delivery raised (HTTPS: its 503)."""

    def __init__(self, client, way: str) -> None:
        self.client, self.way = client, way

    def message(self, body: dict, number: int) -> dict:
        return sign(notification(body, number=number)) if self.way == "https" else lambda_event(body, number=number)

    def deliver(self, message: dict) -> dict:
        if self.way == "https":
            response = post(self.client, message)
            assert response.status_code == 200, response.body
            return {k: v for k, v in response.json_body.items() if k != "message_type"}
        [result] = self.client.lambda_.invoke("cloudwatch_alarms", message).payload
        return result

    def fails(self, message: dict) -> None:
        if self.way == "https":
            with dynamodb_fails(Dedup, "GetItem"):
                response = post(self.client, message)
            assert response.status_code == 503 and response.headers["Retry-After"] == "5", response.body
        else:
            with dynamodb_fails(Dedup, "GetItem", code="ValidationException"):
                with pytest.raises(Exception, match="injected"):
                    self.client.lambda_.invoke("cloudwatch_alarms", message)


@pytest.fixture(params=["https", "lambda"])
def way(request, client, network):
    return Ways(client, request.param)


STALE = {"action": "stale", "incident_id": None}


def test_an_alarm_delivered_after_the_ok_that_followed_it_opens_nothing(client, way, manual_clock):
    first = way.message(changed("ALARM", 60), 1)
    ok = way.message(changed("OK", 30), 2)
    # The ALARM's first delivery fails; the OK arrives, finds nothing to resolve; then the ALARM again.
    way.fails(first)
    assert way.deliver(ok) == {"action": "nothing", "incident_id": None}
    manual_clock.advance(seconds=20)
    assert way.deliver(first) == STALE
    assert list_incidents(client)["incidents"] == []
    assert way.deliver(first)["action"] == "duplicate"


def test_an_alarm_older_than_the_change_applied_is_stale(client, way):
    with Lines("oncall.cloudwatch") as logged:
        assert way.deliver(way.message(changed("OK", 30), 1))["action"] == "nothing"
        assert way.deliver(way.message(changed("ALARM", 30.001), 2)) == STALE
    assert list_incidents(client)["incidents"] == []
    assert logged.containing("ignored ALARM of alarm payments-api-5xx changed at 2026-03-01T11:59:29.999Z")


def test_alarm_ok_and_a_later_alarm_open_a_new_incident(client, way):
    first = way.deliver(way.message(changed("ALARM", 90), 1))
    assert first["action"] == "triggered"
    assert way.deliver(way.message(changed("OK", 60), 2)) == {"action": "resolved", "incident_id": first["incident_id"]}
    again = way.deliver(way.message(changed("ALARM", 30), 3))
    assert again["action"] == "triggered" and again["incident_id"] != first["incident_id"]
    assert get_incident(client, again["incident_id"])["status"] == "TRIGGERED"
    state = AlarmState.get(ALARM_ARN)
    assert (state.changed_at, state.state) == (int((clock.now() - timedelta(seconds=30)).timestamp() * 1000), "ALARM")
    assert state.expires_at == int((clock.now() + timedelta(days=90)).timestamp())


def test_an_alarm_whose_first_delivery_failed_opens_its_incident_when_delivered_again(client, way):
    message = way.message(changed("ALARM", 10), 1)
    way.fails(message)
    # Its time was applied before acting failed: the same time again passes.
    assert AlarmState.get(ALARM_ARN).state == "ALARM"
    retried = way.deliver(message)
    assert retried["action"] == "triggered"
    assert get_incident(client, retried["incident_id"])["alert_count"] == 1


def test_the_same_change_in_two_messages_pages_once(client, way):
    body = changed("ALARM", 10)
    first = way.deliver(way.message(body, 1))
    second = way.deliver(way.message(body, 2))
    assert (first["action"], second) == ("triggered", {"action": "folded", "incident_id": first["incident_id"]})


def test_an_ok_applied_while_its_earlier_alarm_opens_the_incident_leaves_none_open(client, network):
    alarm_message = sign(notification(changed("ALARM", 60), number=1))
    ok = sign(notification(changed("OK", 30), number=2))
    # The OK passes between the ALARM's check of its time and the incident it opens.
    with right_after(AlarmState, "UpdateItem", lambda: deliver(ok)) as between:
        answer = post(client, alarm_message)
    assert between["result"]["action"] == "nothing", between
    assert answer.json_body["action"] == "stale", answer.body
    assert list_incidents(client)["incidents"] == []


def test_an_alarm_applied_while_its_earlier_ok_resolves_keeps_the_incident_open(client, network):
    opened = post(client, sign(notification(changed("ALARM", 90), number=1))).json_body
    ok = sign(notification(changed("OK", 60), number=2))
    again = sign(notification(changed("ALARM", 30), number=3))
    with right_after(AlarmState, "UpdateItem", lambda: deliver(again)) as between:
        answer = post(client, ok)
    assert between["result"]["action"] == "folded", between
    assert answer.json_body["action"] == "stale", answer.body
    incident = get_incident(client, opened["incident_id"])
    assert (incident["status"], incident["alert_count"]) == ("TRIGGERED", 2)


def test_a_state_change_time_after_snss_timestamp_counts_as_that_timestamp(client, manual_clock):
    # Whoever else may publish to the topic could name a time years ahead: kept as it is,
    # every real change of the alarm would be stale until the record expired.
    ahead = lambda_event(alarm("OK", StateChangeTime="2999-01-01T00:00:00.000+0000"), number=1)
    assert client.lambda_.invoke("cloudwatch_alarms", ahead).payload[0]["action"] == "nothing"
    assert AlarmState.get(ALARM_ARN).changed_at == int(clock.now().timestamp() * 1000)
    manual_clock.advance(seconds=30)
    real = client.lambda_.invoke("cloudwatch_alarms", lambda_event(changed("ALARM", 10), number=2)).payload
    assert real[0]["action"] == "triggered"


@pytest.mark.parametrize("time", [None, "yesterday", 1772366400000, "2026-03-01T12:00:00"])
def test_a_change_without_a_readable_state_change_time_acts_as_it_arrives(client, way, time):
    assert way.deliver(way.message(changed("OK", 30), 1))["action"] == "nothing"
    body = {name: value for name, value in alarm().items() if name != "StateChangeTime"}
    if time is not None:
        body["StateChangeTime"] = time
    assert way.deliver(way.message(body, 2))["action"] == "triggered"
    # It is not compared, and it does not move the alarm's time.
    assert AlarmState.get(ALARM_ARN).state == "OK"


# --- INSUFFICIENT_DATA and severity ----------------------------------------------------------------


def test_insufficient_data_does_nothing_by_default(client, network, requests_made):
    certificate_stored()
    with requests_made.measure() as calls:
        response = post(client, sign(notification(alarm("INSUFFICIENT_DATA"))))
    assert response.json_body["action"] == "nothing"
    assert writes(calls) == {}


def test_insufficient_data_can_trigger(client, network):
    with configured(ONCALL_CLOUDWATCH_INSUFFICIENT_DATA="trigger", ONCALL_CLOUDWATCH_SEVERITY="warning"):
        response = post(client, sign(notification(alarm("INSUFFICIENT_DATA"))))
    assert response.json_body["action"] == "triggered"
    assert get_incident(client, response.json_body["incident_id"])["severity"] == "warning"


def test_insufficient_data_can_resolve(client, network):
    incident_id = post(client, sign(notification())).json_body["incident_id"]
    with configured(ONCALL_CLOUDWATCH_INSUFFICIENT_DATA="resolve"):
        response = post(client, sign(notification(alarm("INSUFFICIENT_DATA"), number=2)))
    assert response.json_body == {"message_type": "Notification", "action": "resolved", "incident_id": incident_id}


def test_a_bad_setting_is_refused_at_start():
    with pytest.raises(RuntimeError, match="ONCALL_CLOUDWATCH_INSUFFICIENT_DATA"):
        with configured(ONCALL_CLOUDWATCH_INSUFFICIENT_DATA="maybe"):
            pass
    config.settings.cache_clear()


# --- the shared samples ------------------------------------------------------------------------------


def test_the_shared_samples_are_the_ones_tested():
    for state in ("alarm", "ok"):
        sample = json.loads((SHARED / f"cloudwatch-alarm-sns-lambda-{state}.json").read_text())
        ours = lambda_event(alarm(state.upper()))
        assert json.loads(sample["Records"][0]["Sns"]["Message"]) == json.loads(ours["Records"][0]["Sns"]["Message"])
        assert set(sample["Records"][0]["Sns"]) == set(ours["Records"][0]["Sns"])
    https = json.loads((SHARED / "cloudwatch-alarm-sns-https-notification.json").read_text())
    assert json.loads(https["Message"]) == alarm()
