"""The AWS calls that send (SNS, SES), each client made once, and each call turned
into an Outcome: AWS's own error text is never shown, only what its code means.
Every SDK call of the product is in this module (tests/test_package.py checks the
roles grant exactly these)."""

import threading
from collections.abc import Callable
from functools import lru_cache

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import outbound
from chalicelib.config import settings
from chalicelib.transport.outcome import Outcome

_making_client = threading.Lock()


def _tuned() -> Config:
    # One try within the send timeout, so a call left behind at the deadline
    # (outbound.within) ends soon after it; the delivery's backoff does the retrying.
    timeout = settings().notify_timeout_seconds
    return Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1})


@lru_cache(maxsize=1)
def sns_client():
    # Senders may ask at once from several threads, and boto3's default session is
    # not safe to make clients from concurrently (a client, once made, is).
    with _making_client:
        import boto3  # only sending needs it: kept out of every cold start

        return boto3.client("sns", region_name=settings().region, config=_tuned())


@lru_cache(maxsize=1)
def ses_client():
    with _making_client:
        import boto3

        return boto3.client("ses", region_name=settings().region, config=_tuned())


def forget_clients() -> None:
    sns_client.cache_clear()
    ses_client.cache_clear()


def publish_to_topic(topic_arn: str, subject: str, text: str) -> dict:
    return sns_client().publish(TopicArn=topic_arn, Subject=subject, Message=text)


def publish_sms(number: str, text: str) -> dict:
    # Transactional: delivered ahead of promotional traffic.
    attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
    return sns_client().publish(PhoneNumber=number, Message=text, MessageAttributes=attributes)


def send_email(sender: str, to: str, subject: str, text: str) -> dict:
    return ses_client().send_email(
        Source=sender,
        Destination={"ToAddresses": [to]},
        Message={
            "Subject": {"Data": subject, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
        },
    )


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
