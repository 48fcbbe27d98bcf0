"""What oncall sent through the emulated AWS: SMS published by SNS, email sent by SES."""

from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

REGION = "us-east-1"


def sent_sms() -> list[tuple[str, str]]:
    """(number, text) of every SMS SNS took, oldest first."""
    return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())


def code_sent_to(number: str) -> str:
    """The verification code in the last SMS to `number`."""
    texts = [text for to, text in sent_sms() if to == number]
    assert texts, f"no SMS to {number}"
    return texts[-1].split("code is ")[1][:6]


def sent_email() -> list[tuple[str, str, str]]:
    """(to, subject, body) of every email SES took, oldest first."""
    from moto.ses.models import ses_backends

    sent = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    return [(message.destinations["ToAddresses"][0], message.subject, message.body) for message in sent]
