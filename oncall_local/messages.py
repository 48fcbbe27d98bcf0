"""The SMS and email oncall sends under `make run`: SNS and SES are the embedded
emulator's, so they are read from it for the console's "Sent messages" page."""

import os

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from chalicelib.transport import sent
from oncall_local.emulator import LOCK


def route_to(sender: str) -> None:
    """Send SMS and email to the embedded emulator (which answers this process's AWS
    requests), from `sender` (which SES, as in AWS, must have verified), and show
    what was sent."""
    region = os.environ["AWS_DEFAULT_REGION"]
    boto3.client("ses", region_name=region).verify_email_identity(EmailAddress=sender)
    sent.register(lambda: read(region))


def read(region: str) -> list[dict]:
    """Newest first: SNS and SES keep no send time here, so each kind in send order."""
    # Under the emulator's lock, as every request: a send meanwhile would change the lists read.
    with LOCK:
        found = [
            {"kind": "sms", "to": number, "subject": None, "text": text}
            for number, text in sns_backends[DEFAULT_ACCOUNT_ID][region].sms_messages.values()
        ]
        for message in ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages:
            for to in message.destinations.get("ToAddresses", []):
                found.append({"kind": "email", "to": to, "subject": message.subject, "text": message.body})
    return found[::-1]
