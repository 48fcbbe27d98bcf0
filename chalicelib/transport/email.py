"""Email through Amazon SES, from ONCALL_EMAIL_FROM (an identity SES has verified)."""

from chalicelib.config import settings
from chalicelib.transport import aws
from chalicelib.transport.outcome import Outcome

REFUSALS = {
    "MessageRejected": "SES rejected the message",
    "MailFromDomainNotVerified": "the sender's domain is not verified in SES",
    "ConfigurationSetDoesNotExist": "SES has no such configuration set",
    "AccountSendingPausedException": "sending is paused for this AWS account",
    "Throttling": "SES is throttling sends",
}
PERMANENT = {"MessageRejected", "MailFromDomainNotVerified", "ConfigurationSetDoesNotExist"}


def send(to: str, subject: str, text: str) -> Outcome:
    sender = settings().email_from
    if not sender:
        return Outcome(False, "no sender is set (ONCALL_EMAIL_FROM)", permanent=True)

    def send_email() -> dict:
        return aws.send_email(sender, to, subject[:200], text)

    failed, _ = aws.call("SES", send_email, REFUSALS, PERMANENT)
    return failed or Outcome(True, f"SES took the email to {to}")
