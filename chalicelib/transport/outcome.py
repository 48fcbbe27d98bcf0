"""What one attempt to send a message came to."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    # A sentence fragment written here, e.g. "the receiver answered HTTP 503": never
    # text from the network, which would turn timelines into a scanner's output.
    detail: str
    # True when retrying cannot help (a revoked Slack webhook, a missing topic, a
    # number that cannot take SMS).
    permanent: bool = False
    # True when the receiver was not reached at all (no answer in time, no
    # connection, a refused address): its other messages would fare the same now.
    unreachable: bool = False
