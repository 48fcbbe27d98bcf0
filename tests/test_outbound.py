"""Where Slack and webhook notifications may go, and what their timelines say: private
addresses refused when a channel is made and again on every send, against the address
actually connected to; https only when deployed; TLS verified for the URL's host while
connecting to a checked address; failures told in our own sentences, never in what a
receiver sent. Real loopback receivers; names resolve through a stand-in resolver, so
nothing depends on DNS."""

import ipaddress
import json
import socket
import ssl
import time
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chalicelib import outbound
from chalicelib.api.payloads import ChannelBody
from chalicelib.config import settings
from chalicelib.errors import InvalidInput
from chalicelib.models import Delivery
from chalicelib.notify import channels
from tests.flows import get_incident, post, trigger_ok
from tests.receivers import Banner, Receiver, Trickler, closed_port_url
from tests.test_notifications import CHANNELS, channel_ok, run

PRIVATE = "the address is on a private network and private webhooks are off"
# The documentation's example address stands in for the public internet; the tests
# that use it never connect anywhere.
PUBLIC = "93.184.215.14"


@pytest.fixture
def private_off(monkeypatch):
    """ONCALL_ALLOW_PRIVATE_WEBHOOKS=0, as in a deployed stage (the tests' default is 1)."""

    def turn_off() -> None:
        monkeypatch.setenv("ONCALL_ALLOW_PRIVATE_WEBHOOKS", "0")
        settings.cache_clear()

    turn_off()
    return turn_off


@pytest.fixture
def dns(monkeypatch):
    """A resolver for this test: `dns.answers[name]` is a list of lookups, each a list of
    addresses (the last lookup repeats); other names do not resolve, IP literals and
    localhost resolve as usual. `dns.asked` counts the lookups of each name."""
    real = socket.getaddrinfo
    answers: dict[str, list[list[str]]] = {}
    asked: Counter = Counter()

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in answers:
            if name == "localhost" or _is_literal(name):
                return real(host, port, family, type, proto, flags)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        asked[name] += 1
        lookups = answers[name]
        found = lookups[min(asked[name], len(lookups)) - 1]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))
            for address in found
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return SimpleNamespace(answers=answers, asked=asked)


@contextmanager
def private_allowed():
    """ONCALL_ALLOW_PRIVATE_WEBHOOKS=1 for a moment (a channel made before it was turned off)."""
    with pytest.MonkeyPatch.context() as allowed:
        allowed.setenv("ONCALL_ALLOW_PRIVATE_WEBHOOKS", "1")
        settings.cache_clear()
        yield
    settings.cache_clear()


def _is_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def add_webhook(client, url: str, service: str = "payments", name: str = "hook"):
    return post(client, CHANNELS, {"service_name": service, "kind": "webhook", "name": name, "url": url})


def notification_entries(client, incident_id: int) -> list[str]:
    timeline = get_incident(client, incident_id)["timeline"]
    return [entry["message"] for entry in timeline if entry["kind"] == "notification"]


def failure(name: str, reason: str, event: str = "triggered") -> str:
    return f"Could not notify Webhook {name!r} of {event} (attempt 1 of 8): {reason}; next attempt in 10 s."


# --- which addresses are public ------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, public",
    [
        ("93.184.215.14", True),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("127.255.255.254", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT)
        ("169.254.169.254", False),  # link-local: cloud metadata
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),  # documentation
        ("198.18.0.1", False),  # benchmarking
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fec0::1", False),  # site-local
        ("ff02::1", False),
        ("ff0e::1", False),  # global-scope multicast is still not a receiver
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.215.14", True),
        ("::7f00:1", False),  # IPv4-compatible, deprecated
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2001:db8::1", False),
    ],
)
def test_only_public_addresses_count_as_public(address, public):
    assert outbound.is_public(ipaddress.ip_address(address)) is public


# --- refused when the channel is made ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost:8000/hook",
        "http://LOCALHOST./hook",
        "http://hooks.localhost/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one number
        "http://0x7f.1/hook",
        "http://10.0.0.5/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:8000/hook",
        "http://224.0.0.1/hook",
        "http://[::1]:8000/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:a9fe:a9fe]/hook",
        "https://[64:ff9b::a9fe:a9fe]/hook",
    ],
)
def test_a_channel_to_a_private_address_is_a_400_naming_url(client, private_off, url):
    response = add_webhook(client, url)
    assert response.status_code == 400, response.body
    assert response.json_body["code"] == "invalid_input"
    assert response.json_body["field"] == "url"
    assert PRIVATE in response.json_body["error"]
    assert client.http.get(f"{CHANNELS}?service_name=payments").json_body["channels"] == []


def test_a_name_is_checked_on_every_address_it_resolves_to_and_one_that_does_not_resolve_is_checked_later(
    client, private_off, dns
):
    dns.answers["intranet.example.com"] = [["10.1.2.3"]]
    dns.answers["mixed.example.com"] = [[PUBLIC, "127.0.0.1"]]
    dns.answers["metadata.example.com"] = [["::ffff:169.254.169.254"]]
    dns.answers["hooks.example.com"] = [[PUBLIC, "2606:4700:4700::1111"]]
    for host in ("intranet.example.com", "mixed.example.com", "metadata.example.com"):
        response = add_webhook(client, f"https://{host}/hook")
        assert response.status_code == 400, (host, response.body)
        assert response.json_body["field"] == "url"
    assert add_webhook(client, "https://hooks.example.com/hook").status_code == 201
    # No answer now (CI has no DNS): accepted, and every send checks it.
    assert add_webhook(client, "https://not-resolvable.example.com/hook").status_code == 201


def test_loopback_receivers_are_allowed_when_private_webhooks_are_on(client):
    assert settings().allow_private_webhooks is True
    for url in ("http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://[::1]:9/hook"):
        assert add_webhook(client, url).status_code == 201, url


def test_deployed_stages_accept_only_https(client, private_off, monkeypatch):
    monkeypatch.setenv("ONCALL_STAGE", "prod")
    settings.cache_clear()
    assert settings().deployed
    plain = ChannelBody(service_name="payments", kind="slack", name="#pay", url="http://hooks.example.com/x")
    with pytest.raises(InvalidInput) as refused:
        channels.create_channel(plain, "admin")
    assert refused.value.field == "url" and "https" in refused.value.message
    secure = ChannelBody(service_name="payments", kind="slack", name="#pay", url="https://hooks.example.com/x")
    assert channels.create_channel(secure, "admin")["url"] == "https://hooks.example.com/x"


@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@hooks.example.com/x",
        "https://hooks.example.com:99999/x",
        "https://hooks.example.com:0/x",
        "https://hööks.example.com/x",
        "https://hooks.example.com/übersicht",
        "http://[::1/x",
    ],
)
def test_a_url_that_could_never_be_sent_to_is_a_400_naming_url(client, url):
    response = add_webhook(client, url)
    assert response.status_code == 400, response.body
    assert response.json_body["field"] == "url"


# --- refused again at send time --------------------------------------------------------------------


def test_private_addresses_are_refused_at_send_time_before_any_connection(client, private_off):
    """A channel made while private webhooks were allowed, sent to after they were turned off:
    a live receiver, a closed port and a receiver that would hang all read the same, and
    nothing connects, so the timeline cannot tell an open port from a closed one."""
    with Receiver() as live, Trickler() as hanging:
        with private_allowed():
            channel_ok(client, "payments", "webhook", name="live", url=live.url)
            channel_ok(client, "payments", "webhook", name="closed", url=closed_port_url())
            channel_ok(client, "payments", "webhook", name="hanging", url=hanging.url)
        number = trigger_ok(client, "payments", "private receivers")["id"]
        started = time.monotonic()
        outcome = run()
        took = time.monotonic() - started
        assert (live.all(), hanging.connections) == ([], 0)

    assert outcome["retrying"] == 3, outcome
    assert took < 1.5, took
    assert sorted(notification_entries(client, number)) == [
        failure("closed", PRIVATE),
        failure("hanging", PRIVATE),
        failure("live", PRIVATE),
    ]
    assert {d.last_error for d in Delivery.query(number)} == {PRIVATE}


def test_a_name_accepted_unresolved_is_refused_when_it_resolves_to_a_private_address(
    client, private_off, dns, receivers
):
    receiver = receivers()
    url = f"http://hooks.rebind.test:{receiver.port}/hooks/incoming"
    assert add_webhook(client, url).status_code == 201
    dns.answers["hooks.rebind.test"] = [["127.0.0.1"]]
    number = trigger_ok(client, "payments", "rebound")["id"]
    assert run()["retrying"] == 1
    assert receiver.all() == []
    assert notification_entries(client, number) == [failure("hook", PRIVATE)]


def test_a_name_with_any_private_address_is_refused_at_send_time(client, private_off, dns, receivers):
    receiver = receivers()
    dns.answers["hooks.mixed.test"] = [[PUBLIC, "127.0.0.1"]]
    with private_allowed():
        channel_ok(client, "payments", "webhook", name="hook", url=f"http://hooks.mixed.test:{receiver.port}/x")
    number = trigger_ok(client, "payments", "mixed answers")["id"]
    assert run()["retrying"] == 1
    assert receiver.all() == []
    assert notification_entries(client, number) == [failure("hook", PRIVATE)]


def test_the_connection_goes_to_the_address_that_was_resolved_and_checked(client, dns, receivers):
    """The name resolves to one receiver for the first lookup and to another after: the
    message reaches the first, named by its host, and the name is looked up once."""
    first = receivers()
    second = receivers(host="127.0.0.2", port=first.port)
    dns.answers["hooks.pinned.test"] = [["127.0.0.1"], ["127.0.0.2"]]
    channel_ok(client, "payments", "webhook", url=f"http://hooks.pinned.test:{first.port}/hooks/incoming")
    trigger_ok(client, "payments", "pinned")
    assert run()["delivered"] == 1
    [request] = first.all()
    assert second.all() == []
    assert request.headers["host"] == f"hooks.pinned.test:{first.port}"
    assert dns.asked["hooks.pinned.test"] == 1


def test_a_deployed_stage_does_not_send_to_an_http_url(client, receivers, monkeypatch):
    receiver = receivers()
    channel_ok(client, "payments", "webhook", name="hook", url=receiver.url)
    number = trigger_ok(client, "payments", "plain http")["id"]
    monkeypatch.setenv("ONCALL_STAGE", "prod")
    settings.cache_clear()
    assert run()["failed"] == 1
    assert receiver.all() == []
    [entry] = notification_entries(client, number)
    assert entry == (
        "Could not notify Webhook 'hook' of triggered (attempt 1 of 8): "
        "the URL is not https, and deployed stages send only over https; will not retry."
    )


# --- TLS to a checked address ----------------------------------------------------------------------


def _tls_files(tmp_path, host: str):
    """A CA and a certificate for `host` signed by it, as PEM files: (ca, certificate, key)."""
    now = datetime.now(timezone.utc)

    def certificate(subject: str, key, issuer: str, issuer_key, *, ca: bool):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, host_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("oncall test CA", ca_key, "oncall test CA", ca_key, ca=True)
    leaf = certificate(host, host_key, "oncall test CA", ca_key, ca=False)
    paths = tmp_path / "ca.pem", tmp_path / "host.pem", tmp_path / "host.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        host_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@pytest.fixture
def trusted_ca(monkeypatch):
    """trusted_ca(path): the senders trust this CA (through OpenSSL's SSL_CERT_FILE)."""

    def trust(path) -> None:
        monkeypatch.setenv("SSL_CERT_FILE", str(path))
        outbound._tls.cache_clear()

    yield trust
    outbound._tls.cache_clear()


def test_tls_verifies_and_names_the_url_host_while_connecting_to_the_checked_address(
    client, dns, receivers, trusted_ca, tmp_path
):
    ca, certificate, key = _tls_files(tmp_path, "hooks.tls.test")
    trusted_ca(ca)
    names_seen = []
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(certificate, key)
    server_side.sni_callback = lambda sock, name, context: names_seen.append(name)
    receiver = receivers(tls=server_side)
    dns.answers["hooks.tls.test"] = [["127.0.0.1"]]
    dns.answers["other.tls.test"] = [["127.0.0.1"]]
    channel_ok(client, "payments", "webhook", name="right name", url=f"https://hooks.tls.test:{receiver.port}/in")
    channel_ok(client, "search", "webhook", name="wrong name", url=f"https://other.tls.test:{receiver.port}/in")
    trigger_ok(client, "payments", "over tls")
    wrong = trigger_ok(client, "search", "certificate for another name")["id"]

    outcome = run()
    assert (outcome["delivered"], outcome["retrying"]) == (1, 1), outcome
    [request] = receiver.all()
    assert request.headers["host"] == f"hooks.tls.test:{receiver.port}"
    assert request.path == "/in"
    assert "hooks.tls.test" in names_seen and "other.tls.test" in names_seen
    assert notification_entries(client, wrong) == [
        failure("wrong name", "the receiver's TLS certificate did not verify")
    ]


# --- what the timeline says ------------------------------------------------------------------------


CHATTY = b"db-primary.internal refused: password authentication failed for user oncall"


def _closed_port():
    return None, closed_port_url()


def _ssh():
    banner = Banner(b"SSH-2.0-OpenSSH_9.6p1 " + CHATTY + b"\r\n").start()
    return banner, banner.url


def _refusing_http():
    body = json.dumps({"error": CHATTY.decode()}).encode()
    answer = b"HTTP/1.1 503 " + CHATTY + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    server = Banner(answer).start()
    return server, server.url


def _hanging():
    trickler = Trickler(every=0.2).start()
    return trickler, trickler.url


@pytest.mark.parametrize(
    "receiver, reason",
    [
        (_closed_port, "could not connect to the receiver"),
        (_ssh, "the receiver closed the connection without a valid HTTP answer"),
        (_refusing_http, "the receiver answered HTTP 503"),
        (_hanging, "the receiver did not answer within 1 s"),
    ],
    ids=["closed port", "not HTTP", "HTTP error", "no answer in time"],
)
def test_a_failure_is_told_in_a_sentence_without_anything_the_receiver_sent(client, send_timeout, receiver, reason):
    send_timeout(1)
    server, url = receiver()
    try:
        channel_ok(client, "payments", "webhook", name="hook", url=url)
        number = trigger_ok(client, "payments", "told plainly")["id"]
        assert run()["retrying"] == 1
    finally:
        if server is not None:
            server.stop()
    assert notification_entries(client, number) == [failure("hook", reason)]
    [stored] = Delivery.query(number)
    assert stored.last_error == reason
    shown = json.dumps(get_incident(client, number))
    for leak in ("db-primary", "OpenSSH", "password", "Errno", "refused", "timed out"):
        assert leak not in shown, leak


@pytest.mark.parametrize(
    "name, value",
    [
        ("ONCALL_NOTIFY_TIMEOUT_SECONDS", "11"),  # 15 s of claims plus one deadline must end inside 30 s
        ("ONCALL_NOTIFY_TIMEOUT_SECONDS", "0"),
        ("ONCALL_ALLOW_PRIVATE_WEBHOOKS", "maybe"),
    ],
)
def test_a_bad_outbound_setting_is_refused_at_start(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    settings.cache_clear()
    with pytest.raises(RuntimeError, match=name):
        settings()
    monkeypatch.undo()
    settings.cache_clear()
