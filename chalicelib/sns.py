"""Amazon SNS messages delivered over HTTPS: the envelope, its signature, and
subscription confirmation.

SNS signs every message it POSTs with the private key of a certificate it serves
from `https://sns.<region>.amazonaws.com/SimpleNotificationService-<hex>.pem`. A
message is trusted when its topic is on the allowlist (ONCALL_SNS_TOPIC_ARNS), its
certificate URL is exactly that, on SNS's host in the topic's own region, and its
Signature verifies with that certificate over the canonical string SNS documents
for the message type (SignatureVersion 1 = SHA1withRSA, 2 = SHA256withRSA). See
docs/integrations/cloudwatch.md.

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
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import parse_qs

from chalice.app import SNSEvent
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import clock
from .config import settings, topic_region
from .errors import Busy, Forbidden, InvalidInput
from .payloads import parse

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
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}

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
# is not a certificate will not. At most this many fetches start per minute.
UNREACHABLE_SECONDS = 20
INVALID_SECONDS = 600
MAX_REFUSED_URLS = 256
MAX_FETCHES_PER_MINUTE = 5


class SnsEnvelope(BaseModel):
    """The JSON SNS POSTs (Content-Type text/plain). Fields SNS may add later are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")

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
    key = certificate_key(url)
    try:
        key.verify(signature, envelope.canonical(), padding.PKCS1v15(), HASHES[envelope.SignatureVersion]())
    except InvalidSignature:
        raise Forbidden("The message signature does not verify.", field="Signature") from None


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


class _Certificates:
    """Public keys by certificate URL, and the URLs that failed, in this process.

    SNS rotates its certificate rarely and under a new URL, so a key once fetched
    stays valid for its URL. Anyone can post a message naming a listed topic and a
    certificate URL of the right shape, so fetching is bounded: one fetch per URL at
    a time (the others wait for its outcome), a URL that failed is not fetched again
    for a while, and at most MAX_FETCHES_PER_MINUTE fetches start in any minute.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        # URL -> (until when it is refused, whether it was unreachable rather than invalid)
        self._refused: dict[str, tuple[datetime, bool]] = {}
        self._started: deque[datetime] = deque()
        self._pending: dict[str, threading.Event] = {}

    def key(self, url: str) -> rsa.RSAPublicKey:
        while True:
            with self._lock:
                known = self._known(url)
                if known is not None:
                    return known
                pending = self._pending.get(url)
                if pending is None:
                    self._start_fetch()
                    pending = self._pending[url] = threading.Event()
                    break
            # Another request is fetching this URL: its outcome is recorded before it is set.
            if not pending.wait(2 * FETCH_TIMEOUT_SECONDS):
                raise Busy("The SNS signing certificate is still being fetched; retry later.")
        try:
            return self._fetch(url)
        finally:
            with self._lock:
                del self._pending[url]
            pending.set()

    def _known(self, url: str) -> rsa.RSAPublicKey | None:
        """The cached key, None if the URL may be fetched, or the refusal it earned."""
        if url in self._keys:
            return self._keys[url]
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

    def _start_fetch(self) -> None:
        now = clock.now()
        while self._started and now - self._started[0] >= timedelta(minutes=1):
            self._started.popleft()
        if len(self._started) >= MAX_FETCHES_PER_MINUTE:
            wait = (self._started[0] + timedelta(minutes=1) - now).total_seconds()
            raise Busy(
                "Too many SNS signing certificates were fetched in the last minute; retry later.", retry_after=wait
            )
        self._started.append(now)

    def _fetch(self, url: str) -> rsa.RSAPublicKey:
        try:
            pem = fetcher(url)
        except Exception as error:  # the network: SNS retries on 5xx
            log.warning("could not fetch the SNS signing certificate %s: %s", url, error)
            self._refuse(url, UNREACHABLE_SECONDS, unreachable=True)
            raise Busy(
                "Could not fetch the SNS signing certificate; retry later.", retry_after=UNREACHABLE_SECONDS
            ) from None
        try:
            key = x509.load_pem_x509_certificate(pem).public_key()
        except ValueError:
            key = None
        if not isinstance(key, rsa.RSAPublicKey):
            self._refuse(url, INVALID_SECONDS, unreachable=False)
            raise _not_a_certificate()
        with self._lock:
            if len(self._keys) >= MAX_CACHED_CERTIFICATES:
                self._keys.clear()
            self._keys[url] = key
        return key

    def _refuse(self, url: str, seconds: int, *, unreachable: bool) -> None:
        with self._lock:
            if len(self._refused) >= MAX_REFUSED_URLS:
                self._refused.pop(next(iter(self._refused)))
            self._refused[url] = (clock.now() + timedelta(seconds=seconds), unreachable)

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()
            self._refused.clear()
            self._started.clear()


def _not_a_certificate() -> Forbidden:
    return Forbidden("The signing certificate is not an RSA certificate in PEM.", field="SigningCertURL")


_certificates = _Certificates()


def forget_certificates() -> None:
    _certificates.clear()


def certificate_key(url: str) -> rsa.RSAPublicKey:
    return _certificates.key(url)


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
