"""Outbound HTTP for Slack and webhook channels: where a request may go, and how
long it may take.

An attempt has one absolute deadline, and every step of it (resolving the name,
connecting, the TLS handshake, sending, each read of the answer) may take only
what is left of it, so the thread that sends is free at the deadline and the
connection is closed whatever the receiver does. The name is resolved once; every
address it resolves to must be public unless ONCALL_ALLOW_PRIVATE_WEBHOOKS=1, and
the connection goes to an address that was checked (DNS cannot change between the
check and the connect), while TLS verifies the URL's host name, and SNI and the
Host header carry it. Redirects are answers like any other: never followed.

Failures are sentences written here, never text from the network: what a receiver
answers (or an exception quotes from it) stays out of timelines."""

import http.client
import io
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar
from urllib.parse import urlsplit

from chalicelib.config import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 prefixes whose addresses stand for an IPv4 address: judged by that address too.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# How long creating a channel waits for its host name to resolve. A name that does
# not resolve in time is accepted: it is checked again on every send.
CREATE_RESOLVE_SECONDS = 2.0

PRIVATE = "the address is on a private network and private webhooks are off"
NOT_HTTPS = "the URL is not https, and deployed stages send only over https"
NO_ADDRESS = "the receiver's host name did not resolve"
NO_CONNECTION = "could not connect to the receiver"
TLS_UNVERIFIED = "the receiver's TLS certificate did not verify"
TLS_FAILED = "the TLS handshake with the receiver failed"
NOT_HTTP = "the receiver closed the connection without a valid HTTP answer"
UNUSABLE_URL = "the channel's URL cannot be used"

T = TypeVar("T")


class Failed(Exception):
    """An attempt that got no HTTP answer. `reason` is one of the sentences above."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Refused(ValueError):
    """A URL that a new channel may not have; the message says why, for people."""


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._at = time.monotonic() + seconds

    def left(self) -> float:
        """The seconds left; TimeoutError once there are none."""
        left = self._at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed")
        return left


def within(deadline: Deadline, call: Callable[..., T], *args) -> T:
    """`call(*args)` for a blocking call that no timeout can cut short (a name
    lookup, an SDK call), on a thread of its own: the caller is free at the deadline
    (TimeoutError) and the call, left behind, ends on its own. A thread per call,
    never a shared pool, so calls that hang cannot hold up anyone else's."""
    done = threading.Event()
    result: dict = {}

    def work() -> None:
        try:
            result["value"] = call(*args)
        except BaseException as error:  # handed to the caller below
            result["error"] = error
        finally:
            done.set()

    threading.Thread(target=work, name=f"oncall-{getattr(call, '__name__', 'call')}", daemon=True).start()
    if not done.wait(deadline.left()):
        raise TimeoutError("the deadline passed")
    if "error" in result:
        raise result["error"]
    return result["value"]


# --- where a request may go ------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int
    path: str  # with the query, never empty

    @property
    def tls(self) -> bool:
        return self.scheme == "https"


def parse(url: str) -> Target:
    """The parts of a channel URL, or ValueError with a sentence saying what is wrong."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [ of an IPv6 address
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password; put a token in the path instead")
    if not url.isascii():
        raise ValueError("must be ASCII: percent-encode other characters, and give a host in its xn-- form")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError("has a port that is not a number from 1 to 65535")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


def is_public(address: IPAddress) -> bool:
    """Whether `address` is on the public internet: not loopback, private (RFC 1918,
    100.64/10 shared, unique-local fc00::/7), link-local, multicast, unspecified,
    reserved or documentation, nor an IPv6 form of such an IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        carried = [address.sixtofour]
        if address in NAT64:
            carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(inner is not None and not is_public(inner) for inner in carried) or address.is_site_local:
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _local_name(host: str) -> bool:
    # RFC 6761: these always mean this machine, whatever a resolver answers.
    name = host.rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _refused(addresses: list[IPAddress]) -> bool:
    return not settings().allow_private_webhooks and not all(is_public(address) for address in addresses)


def check_new(url: str) -> None:
    """For a new channel: Refused when sending to `url` would be refused now. A name
    that does not resolve now is accepted; every send checks it again."""
    target = parse(url)
    if settings().deployed and not target.tls:
        raise Refused("must be an https:// URL: deployed stages send only over https")
    if settings().allow_private_webhooks:
        return
    literal = _literal(target.host)
    if _local_name(target.host) or (literal is not None and not is_public(literal)):
        raise Refused(f"{PRIVATE} (ONCALL_ALLOW_PRIVATE_WEBHOOKS)")
    try:
        found = _resolve(target, Deadline(CREATE_RESOLVE_SECONDS))
    except OSError:  # no such name, or no answer in time (TimeoutError is an OSError)
        return
    if _refused([address for _, _, address in found]):
        raise Refused(f"{PRIVATE} (ONCALL_ALLOW_PRIVATE_WEBHOOKS)")


def _resolve(target: Target, deadline: Deadline) -> list[tuple[int, tuple, IPAddress]]:
    """(family, socket address, IP address) of each address the host resolves to,
    in the resolver's order. One lookup: what is checked is what is connected to."""
    found = within(
        deadline, socket.getaddrinfo, target.host, target.port, socket.AF_UNSPEC, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )
    addresses = []
    for family, _, _, _, sockaddr in found:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        entry = (family, sockaddr, ipaddress.ip_address(sockaddr[0].partition("%")[0]))
        if entry not in addresses:
            addresses.append(entry)
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "no IPv4 or IPv6 address")
    return addresses


# --- how it is sent --------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


class _NoConnection(Exception):
    pass


class _DeadlineReader(io.RawIOBase):
    """The socket's bytes, each read allowed only what is left of the deadline: a
    receiver that trickles its answer cannot stretch the attempt past it."""

    def __init__(self, owner: "_DeadlineSocket") -> None:
        super().__init__()
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self._owner.sock.settimeout(self._owner.deadline.left())
        return self._owner.sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._owner.file_closed()
        super().close()


class _DeadlineSocket:
    """What http.client uses of its socket (sendall, makefile, close), every
    operation bounded by the deadline. As a real socket's, closing it waits for the
    files made from it: http.client closes the connection as soon as it has the
    answer's head, while the answer's body is still to be read."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self.sock = sock
        self.deadline = deadline
        self._files = 0
        self._closing = False

    def sendall(self, data) -> None:
        view = memoryview(data).cast("B")
        while view:
            self.sock.settimeout(self.deadline.left())
            view = view[self.sock.send(view) :]

    def makefile(self, mode: str = "rb", *args, **kwargs) -> io.BufferedReader:
        self._files += 1
        return io.BufferedReader(_DeadlineReader(self))

    def file_closed(self) -> None:
        self._files -= 1
        if self._closing and self._files == 0:
            self.sock.close()

    def close(self) -> None:
        self._closing = True
        if self._files == 0:
            self.sock.close()


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP or HTTPS to addresses resolved and checked beforehand, never to what the
    host name resolves to at connect time."""

    def __init__(self, target: Target, addresses: list[tuple[int, tuple, IPAddress]], deadline: Deadline) -> None:
        super().__init__(target.host, target.port)
        # The Host header leaves out the scheme's own port.
        self.default_port = 443 if target.tls else 80
        self._target = target
        self._addresses = addresses
        self._deadline = deadline

    def connect(self) -> None:
        self.sock = _DeadlineSocket(self._open(), self._deadline)

    def _open(self) -> socket.socket:
        for family, sockaddr, _ in self._addresses:
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
            except OSError:  # e.g. no IPv6 on this host
                continue
            try:
                sock.settimeout(self._deadline.left())
                sock.connect(sockaddr)
            except TimeoutError:
                sock.close()
                raise
            except OSError:
                sock.close()
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if not self._target.tls:
                return sock
            # The handshake as a whole is bounded by the socket's timeout.
            sock.settimeout(self._deadline.left())
            return _tls().wrap_socket(sock, server_hostname=self._target.host)
        raise _NoConnection


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST `body` to `url` within `timeout` seconds in all, and answer the HTTP
    status. Failed when there is no HTTP answer, with a sentence saying why."""
    return exchange(url, body, headers, timeout)[0]


def exchange(
    url: str, body: bytes, headers: dict[str, str], timeout: float, answer_bytes: int = 0
) -> tuple[int, bytes]:
    """As post, and the first `answer_bytes` of the answer's body too (for an API
    that says in its body whether it took the request, as Slack's does)."""
    deadline = Deadline(timeout)
    timed_out = f"the receiver did not answer within {timeout:g} s"
    try:
        target = parse(url)
    except ValueError:
        raise Failed(UNUSABLE_URL, permanent=True) from None
    if settings().deployed and not target.tls:
        raise Failed(NOT_HTTPS, permanent=True)
    try:
        addresses = _resolve(target, deadline)
    except TimeoutError:
        raise Failed(timed_out) from None
    except OSError:
        raise Failed(NO_ADDRESS) from None
    if _refused([address for _, _, address in addresses]):
        raise Failed(PRIVATE)
    connection = _PinnedConnection(target, addresses, deadline)
    response = None
    try:
        connection.request("POST", target.path, body=body, headers={**headers, "Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read(answer_bytes) if answer_bytes else b""
    except TimeoutError:
        raise Failed(timed_out) from None
    except _NoConnection:
        raise Failed(NO_CONNECTION) from None
    except ssl.SSLCertVerificationError:
        raise Failed(TLS_UNVERIFIED) from None
    except ssl.SSLError:
        raise Failed(TLS_FAILED) from None
    except (http.client.HTTPException, OSError, ValueError):
        raise Failed(NOT_HTTP) from None
    finally:
        if response is not None:
            response.close()
        connection.close()
