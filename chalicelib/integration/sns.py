"""Amazon SNS messages delivered over HTTPS: the envelope, its signature, and
subscription confirmation.

SNS signs every message it POSTs with the private key of a certificate it serves
from `https://sns.<region>.amazonaws.com/SimpleNotificationService-<hex>.pem`. A
message is trusted when its topic is on the allowlist (ONCALL_SNS_TOPIC_ARNS), its
certificate URL is exactly that, on SNS's host in the topic's own region, and its
Signature verifies with that certificate over the canonical string SNS documents
for the message type (SignatureVersion 1 = SHA1withRSA, 2 = SHA256withRSA). A
certificate that verified a message is stored (the sns-certificates table), so other
processes read it instead of fetching it. See docs/integrations/cloudwatch.md.

Every outbound HTTP request (the certificate, the SubscribeURL) goes through
`fetcher`, which tests replace; nothing here reaches the network otherwise.
"""

import base64
import binascii
import logging
import re
import threading
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs

from chalice.app import SNSEvent
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pynamodb.exceptions import PynamoDBException

from chalicelib import clock, db
from chalicelib.config import settings, topic_region

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from chalicelib.api.payloads import parse
from chalicelib.errors import Busy, Forbidden, InvalidInput
from chalicelib.models import SnsCertificate

log = logging.getLogger("oncall.sns")

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
MESSAGE_TYPES = (NOTIFICATION, SUBSCRIPTION_CONFIRMATION, UNSUBSCRIBE_CONFIRMATION)
MESSAGE_TYPE_HEADER = "x-amz-sns-message-type"

# The path of SNS's signing certificates, after https://<SNS host of the topic's region>.
CERTIFICATE_PATH = re.compile(r"/SimpleNotificationService-[0-9a-f]{1,64}\.pem")
# What may follow https://<SNS host>/? in a SubscribeURL: a query string, nothing else.
QUERY = re.compile(r"[A-Za-z0-9._~%&=:+/-]*")
TOPIC_ARN = r"^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]{1,256}$"
# The signature's hash by SignatureVersion (1: SHA1withRSA, 2: SHA256withRSA).
HASHES = {"1": "SHA1", "2": "SHA256"}

# Fields in the order SNS signs them; Subject only when the message has one.
SIGNED_FIELDS = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    UNSUBSCRIBE_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}

SNS_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")
# A message older than this, or further ahead of our clock, is refused: a captured
# message cannot be replayed later. SNS gives up retrying an HTTPS delivery within an hour.
MAX_MESSAGE_AGE = timedelta(hours=1)
MAX_CLOCK_SKEW = timedelta(minutes=5)

FETCH_TIMEOUT_SECONDS = 5
MAX_FETCH_BYTES = 64 * 1024
MAX_CACHED_CERTIFICATES = 32
# A certificate URL that could not be fetched is not fetched again for a while: a
# network failure may clear soon (SNS retries every 20 s by default), a body that
# is not a certificate will not.
UNREACHABLE_SECONDS = 20
INVALID_SECONDS = 600
MAX_REFUSED_URLS = 256
# Fetches run one at a time: how long a request waits for its turn, and how long for
# another request's lookup of the same URL (which may have had to wait its turn too).
FETCH_TURN_SECONDS = FETCH_TIMEOUT_SECONDS
LOOKUP_WAIT_SECONDS = FETCH_TURN_SECONDS + 2 * FETCH_TIMEOUT_SECONDS


class SnsEnvelope(BaseModel):
    """The JSON SNS POSTs (Content-Type text/plain). Fields SNS may add later are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", defer_build=True)

    Type: Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
    MessageId: str = Field(min_length=1, max_length=256)
    TopicArn: str = Field(pattern=TOPIC_ARN)
    Subject: str | None = Field(default=None, max_length=1024)
    Message: str
    Timestamp: str = Field(min_length=1, max_length=64)
    SignatureVersion: Literal["1", "2"]
    Signature: str = Field(min_length=1, max_length=4096)
    # SNS spells these ...URL over HTTPS and ...Url in a Lambda event; either is read.
    SigningCertURL: str | None = Field(default=None, max_length=2048)
    SigningCertUrl: str | None = Field(default=None, max_length=2048)
    SubscribeURL: str | None = Field(default=None, max_length=2048)
    Token: str | None = Field(default=None, max_length=2048)
    UnsubscribeURL: str | None = Field(default=None, max_length=2048)
    UnsubscribeUrl: str | None = Field(default=None, max_length=2048)
    MessageAttributes: dict | None = None

    @field_validator("Timestamp")
    @classmethod
    def _instant(cls, value: str) -> str:
        sent_at(value)
        return value

    @model_validator(mode="after")
    def _complete(self) -> "SnsEnvelope":
        if not self.certificate_url:
            raise ValueError("SigningCertURL: SigningCertURL is required")
        if self.Type != NOTIFICATION and (not self.SubscribeURL or not self.Token):
            missing = "SubscribeURL" if not self.SubscribeURL else "Token"
            raise ValueError(f"{missing}: a {self.Type} needs {missing}")
        return self

    @property
    def certificate_url(self) -> str | None:
        return self.SigningCertURL or self.SigningCertUrl

    def canonical(self) -> bytes:
        """The string SNS signed: `Name\\nvalue\\n` for each signed field present, in order."""
        parts = []
        for name in SIGNED_FIELDS[self.Type]:
            value = getattr(self, name)
            if value is None:
                continue
            parts.append(f"{name}\n{value}\n")
        return "".join(parts).encode("utf-8")


def sent_at(timestamp: str) -> datetime:
    """An SNS Timestamp (UTC, e.g. 2026-11-26T08:40:00.123Z) as an instant; ValueError otherwise."""
    if SNS_TIMESTAMP.fullmatch(timestamp) is None:
        raise ValueError("must be the UTC time SNS sends, e.g. 2026-11-26T08:40:00.123Z")
    try:
        return clock.parse_iso(timestamp)
    except ValueError:
        raise ValueError("is not a date and time that exists") from None


def read_envelope(raw_body: bytes | None, message_type_header: str | None) -> SnsEnvelope:
    """Parse the POST body; raises InvalidInput (400) naming the field."""
    envelope = parse(SnsEnvelope, raw_body)
    if message_type_header is not None and message_type_header.strip() != envelope.Type:
        raise InvalidInput(
            f"The {MESSAGE_TYPE_HEADER} header says {message_type_header[:40]!r} but the message is a {envelope.Type}.",
            field=MESSAGE_TYPE_HEADER,
        )
    return envelope


# --- trust ----------------------------------------------------------------------------


def verify(envelope: SnsEnvelope) -> None:
    """Raise Forbidden unless the topic is allowed, the message is fresh and the
    signature is SNS's own. The topic, the time and the certificate URL's shape are
    checked first, so none of them can cost a certificate fetch."""
    allowed = settings().sns_topic_arns
    if envelope.TopicArn not in allowed:
        hint = "" if allowed else " (ONCALL_SNS_TOPIC_ARNS is empty: no topic is accepted until one is listed)"
        raise Forbidden(f"Messages from SNS topic {envelope.TopicArn} are not accepted{hint}.", field="TopicArn")
    check_fresh(envelope)
    host = topic_host(envelope.TopicArn)
    url = envelope.certificate_url or ""
    if not is_certificate_url(url, host):
        raise Forbidden(
            f"The signing certificate must be https://{host}/SimpleNotificationService-<hex>.pem: "
            "SNS's own, in the topic's region.",
            field="SigningCertURL",
        )
    try:
        signature = base64.b64decode(envelope.Signature, validate=True)
    except (binascii.Error, ValueError):
        raise Forbidden("The message signature does not verify.", field="Signature") from None
    certificate = _certificates.get(url)
    # Only this path needs cryptography: imported here, it stays out of every cold start.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    digest = getattr(hashes, HASHES[envelope.SignatureVersion])()
    try:
        certificate.key.verify(signature, envelope.canonical(), padding.PKCS1v15(), digest)
    except InvalidSignature:
        raise Forbidden("The message signature does not verify.", field="Signature") from None
    _certificates.verified(url, certificate)


def check_fresh(envelope: SnsEnvelope) -> None:
    """Refuse a message sent more than an hour ago or more than the clock skew ahead."""
    age = clock.now() - sent_at(envelope.Timestamp)
    if age > MAX_MESSAGE_AGE:
        raise Forbidden(
            f"Timestamp {envelope.Timestamp} is more than an hour old: an old message is refused, "
            "so a captured one cannot be replayed.",
            field="Timestamp",
        )
    if -age > MAX_CLOCK_SKEW:
        raise Forbidden(
            f"Timestamp {envelope.Timestamp} is more than {MAX_CLOCK_SKEW.seconds // 60} minutes "
            "ahead of oncall's clock.",
            field="Timestamp",
        )


def topic_host(topic_arn: str) -> str:
    """SNS's host in the topic's region."""
    region = topic_region(topic_arn)
    if region is None:  # config refuses such a topic in the allowlist; this is the backstop
        raise Forbidden(f"SNS topic {topic_arn} is not in a region oncall knows.", field="TopicArn")
    return sns_host(region)


def sns_host(region: str) -> str:
    """SNS's host in `region`: under amazonaws.com.cn in China, amazonaws.com elsewhere."""
    return f"sns.{region}.amazonaws.com.cn" if region.startswith("cn-") else f"sns.{region}.amazonaws.com"


def is_certificate_url(url: str, host: str) -> bool:
    """Exactly https://<host>/SimpleNotificationService-<hex>.pem: no port, userinfo, query or fragment."""
    origin = f"https://{host}"
    return url.startswith(origin) and CERTIFICATE_PATH.fullmatch(url[len(origin) :]) is not None


def is_subscribe_url(url: str, host: str, topic_arn: str) -> bool:
    """https://<host>/?Action=ConfirmSubscription&TopicArn=<topic_arn>&Token=..., and nothing more."""
    origin = f"https://{host}/?"
    if not url.startswith(origin) or QUERY.fullmatch(url[len(origin) :]) is None:
        return False
    try:
        query = parse_qs(url[len(origin) :], strict_parsing=True)
    except ValueError:
        return False
    return (
        query.get("Action") == ["ConfirmSubscription"]
        and query.get("TopicArn") == [topic_arn]
        and len(query.get("Token", [])) == 1
    )


@dataclass
class _Certificate:
    key: "RSAPublicKey"
    pem: str
    # In the sns-certificates table, for every process to read.
    stored: bool


def _rsa_certificate(pem: bytes, *, stored: bool) -> _Certificate | None:
    """The certificate in `pem` if it is an RSA certificate, else None."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        certificate = x509.load_pem_x509_certificate(pem)
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return None
    if not isinstance(key, rsa.RSAPublicKey):
        return None
    return _Certificate(key, certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"), stored)


def _stored(url: str) -> _Certificate | None:
    """The certificate another delivery (in any process) verified a message with."""
    try:
        item = SnsCertificate.get(url)
    except SnsCertificate.DoesNotExist:
        return None
    except PynamoDBException as error:
        log.warning(
            "could not read the stored SNS certificate %s (%s); fetching it", url, db.response_code(error) or error
        )
        return None
    certificate = _rsa_certificate(item.pem.encode("ascii"), stored=True)
    if certificate is None:
        log.warning("the stored SNS certificate %s is not an RSA certificate; fetching it", url)
    return certificate


class _Turns:
    """One holder at a time; the others get their turn in the order they asked, each
    waiting at most as long as it says (then Busy)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Event] = deque()

    @contextmanager
    def take(self, wait: float) -> Iterator[None]:
        turn = None
        with self._lock:
            if self._held:
                turn = threading.Event()
                self._waiting.append(turn)
            else:
                self._held = True
        if turn is not None and not turn.wait(wait):
            with self._lock:
                # A turn is handed over under the lock: set now means it is ours after all.
                if not turn.is_set():
                    self._waiting.remove(turn)
                    raise Busy("Other SNS signing certificates are being fetched; retry shortly.", retry_after=wait)
        try:
            yield
        finally:
            with self._lock:
                if self._waiting:
                    self._waiting.popleft().set()
                else:
                    self._held = False


class _Certificates:
    """Signing certificates by URL: this process's, the stored ones, and the URLs
    whose fetch failed.

    A key comes from the cheapest place that has it: this process's cache, then the
    sns-certificates table (one GetItem), which holds every certificate whose key has
    verified a message of an allowed topic in any process, then SNS's host. SNS
    rotates its certificate rarely and under a new URL, so after the first genuine
    message of a certificate only forged URLs, and the moment SNS rotates, need a fetch.

    Those fetches are bounded per URL and made one at a time, not capped per minute.
    Until its certificate is fetched a genuine message looks exactly like a forged
    one: anyone can name the URL SNS rotates to, repeat a URL as SNS's retries do, or
    name a new one each time. A cap of N fetches a minute goes to whoever asks first,
    so N forged posts a minute kept a process from ever fetching SNS's new
    certificate, and every genuine alarm answered 503 until SNS gave up. Instead:

    - each fetch settles its URL for a while: requests during the fetch wait for its
      outcome, and a URL that failed is refused 20 s (the network) or 10 minutes (not
      an RSA certificate), so a flood costs at most one fetch per URL it invents,
      never more than one per post, and each only to SNS's own host (5 s, 64 KiB);
    - fetches run one at a time, in the order requests asked (_Turns): a flood can
      make a genuine request wait behind the fetches queued before it, at most
      FETCH_TURN_SECONDS (then 503 with Retry-After), but cannot take its turn.

    In Lambda a container serves one request at a time, so there a forged post costs
    at most the one fetch of its own invocation.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, _Certificate] = {}
        # URL -> (until when it is refused, whether it was unreachable rather than invalid)
        self._refused: dict[str, tuple[datetime, bool]] = {}
        self._pending: dict[str, threading.Event] = {}
        self._turns = _Turns()

    def get(self, url: str) -> _Certificate:
        while True:
            with self._lock:
                known = self._cached(url)
                if known is not None:
                    return known
                pending = self._pending.get(url)
                if pending is None:
                    pending = self._pending[url] = threading.Event()
                    break
            # Another request is looking this URL up: its outcome is recorded before it is set.
            if not pending.wait(LOOKUP_WAIT_SECONDS):
                raise Busy("The SNS signing certificate is still being fetched; retry later.")
        try:
            certificate = _stored(url) or self._fetch(url)
            with self._lock:
                if len(self._known) >= MAX_CACHED_CERTIFICATES:
                    self._known.clear()
                self._known[url] = certificate
            return certificate
        finally:
            with self._lock:
                del self._pending[url]
            pending.set()

    def verified(self, url: str, certificate: _Certificate) -> None:
        """The certificate's key verified a message of an allowed topic: store it, so
        that no process needs to fetch it again. Only such a certificate is stored,
        so a refused message writes nothing."""
        if certificate.stored:
            return
        try:
            SnsCertificate(url, pem=certificate.pem, stored_at=clock.now()).save()
        except PynamoDBException as error:
            # This process keeps the key; the next message it verifies stores it.
            log.warning("could not store the SNS certificate %s: %s", url, db.response_code(error) or error)
            return
        certificate.stored = True

    def _cached(self, url: str) -> _Certificate | None:
        """The key this process has, None if the URL may be looked up, or the refusal it earned."""
        if url in self._known:
            return self._known[url]
        if url not in self._refused:
            return None
        until, unreachable = self._refused[url]
        now = clock.now()
        if now >= until:
            del self._refused[url]
            return None
        if unreachable:
            wait = (until - now).total_seconds()
            raise Busy("Could not fetch the SNS signing certificate; retry later.", retry_after=wait)
        raise _not_a_certificate()

    def _fetch(self, url: str) -> _Certificate:
        with self._turns.take(FETCH_TURN_SECONDS):
            try:
                pem = fetcher(url)
            except Exception as error:  # the network: SNS retries on 5xx
                log.warning("could not fetch the SNS signing certificate %s: %s", url, error)
                self._refuse(url, UNREACHABLE_SECONDS, unreachable=True)
                raise Busy(
                    "Could not fetch the SNS signing certificate; retry later.", retry_after=UNREACHABLE_SECONDS
                ) from None
        certificate = _rsa_certificate(pem, stored=False)
        if certificate is None:
            self._refuse(url, INVALID_SECONDS, unreachable=False)
            raise _not_a_certificate()
        return certificate

    def _refuse(self, url: str, seconds: int, *, unreachable: bool) -> None:
        with self._lock:
            if len(self._refused) >= MAX_REFUSED_URLS:
                self._refused.pop(next(iter(self._refused)))
            self._refused[url] = (clock.now() + timedelta(seconds=seconds), unreachable)

    def clear(self) -> None:
        with self._lock:
            self._known.clear()
            self._refused.clear()


def _not_a_certificate() -> Forbidden:
    return Forbidden("The signing certificate is not an RSA certificate in PEM.", field="SigningCertURL")


_certificates = _Certificates()


def forget_certificates() -> None:
    """Forget what this process knows (the stored certificates stay)."""
    _certificates.clear()


def certificate_key(url: str) -> "RSAPublicKey":
    return _certificates.get(url).key


# --- subscriptions ----------------------------------------------------------------------


def confirm_subscription(envelope: SnsEnvelope) -> None:
    """GET the SubscribeURL of a verified SubscriptionConfirmation: SNS's
    ConfirmSubscription for this very topic, on SNS's host in the topic's region."""
    url = envelope.SubscribeURL or ""
    host = topic_host(envelope.TopicArn)
    if not is_subscribe_url(url, host, envelope.TopicArn):
        raise Forbidden(
            f"The SubscribeURL must be https://{host}/?Action=ConfirmSubscription&TopicArn=<the message's topic>&...",
            field="SubscribeURL",
        )
    try:
        fetcher(url)
    except Exception as error:
        log.warning("confirming the subscription to %s failed: %s", envelope.TopicArn, error)
        raise Busy("Could not confirm the subscription with SNS; it will send the confirmation again.") from None
    log.info("confirmed the SNS subscription to %s", envelope.TopicArn)


# --- the one way out to the network ---------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could leave the SNS host that was checked: refuse it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def urllib_fetch(url: str) -> bytes:
    """GET `url` (already checked to be https on SNS's host) and return the body."""
    with _opener.open(urllib.request.Request(url, method="GET"), timeout=FETCH_TIMEOUT_SECONDS) as response:
        body = response.read(MAX_FETCH_BYTES + 1)
    if len(body) > MAX_FETCH_BYTES:
        raise ValueError(f"the answer is over {MAX_FETCH_BYTES} bytes")
    return body


# Replace in tests (tests/test_cloudwatch.py): a callable taking a URL, returning the body.
fetcher: Callable[[str], bytes] = urllib_fetch


def use_fetcher(fetch: Callable[[str], bytes] | None) -> None:
    """Route every outbound request through `fetch` (None: back to urllib)."""
    global fetcher
    fetcher = fetch or urllib_fetch
    forget_certificates()


# --- Lambda events --------------------------------------------------------------------------


class LenientSNSEvent(SNSEvent):
    """chalice's SNSEvent reads the first record in its constructor and raises on an
    event without one, before the handler could log and skip it. This one never
    raises; the handler reads every record from `to_dict()["Records"]`."""

    def _extract_attributes(self, event_dict) -> None:
        records = event_dict.get("Records") if isinstance(event_dict, dict) else None
        first = records[0] if isinstance(records, list) and records and isinstance(records[0], dict) else {}
        sns = first.get("Sns") if isinstance(first.get("Sns"), dict) else {}
        self.message = sns.get("Message")
        self.subject = sns.get("Subject")
        self.message_attributes = sns.get("MessageAttributes")
