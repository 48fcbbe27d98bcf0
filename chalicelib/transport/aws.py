"""AWS clients for sending (SNS, SES), made once each, and one call to them turned
into an Outcome: AWS's own error text is never shown, only what its code means."""

import threading
from collections.abc import Callable
from functools import lru_cache

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import outbound
from chalicelib.config import settings
from chalicelib.transport.outcome import Outcome

_making_client = threading.Lock()


@lru_cache(maxsize=4)
def client(service: str):
    # One try within the send timeout, so a call left behind at the deadline
    # (outbound.within) ends soon after it; the delivery's backoff does the retrying.
    timeout = settings().notify_timeout_seconds
    tuned = Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1})
    # Senders may ask at once from several threads, and boto3's default session is
    # not safe to make clients from concurrently (a client, once made, is).
    with _making_client:
        import boto3  # only sending needs it: kept out of every cold start

        return boto3.client(service, region_name=settings().region, config=tuned)


def call(
    name: str, send: Callable[[], dict], refusals: dict[str, str], permanent: set[str]
) -> tuple[Outcome | None, dict]:
    """Run `send` within the notification timeout: (None, its answer) when it was
    taken, or (the failed Outcome, {}). `refusals` words the error codes that are
    expected; `permanent` are those a later attempt cannot get past."""
    timeout = settings().notify_timeout_seconds
    try:
        return None, outbound.within(outbound.Deadline(timeout), send)
    except TimeoutError:
        return Outcome(False, f"{name} did not answer within {timeout} s", unreachable=True), {}
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        return Outcome(False, refusals.get(code, f"{name} refused the message"), permanent=code in permanent), {}
    except BotoCoreError:
        return Outcome(False, f"could not reach {name}", unreachable=True), {}
