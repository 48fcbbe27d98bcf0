"""SMS through SNS's direct publish to a phone number (transactional, so that it is
delivered ahead of promotional traffic and outside quiet-time rules)."""

from chalicelib.transport import aws
from chalicelib.transport.outcome import Outcome

# SMS longer than this is cut: several segments cost several messages, and a page
# must say what it needs in the first one.
MAX_LENGTH = 320
REFUSALS = {
    "InvalidParameter": "SNS refused the number or the message",
    "OptedOut": "the number has opted out of SMS",
    "AuthorizationError": "this stage may not send SMS",
    "Throttled": "SNS is throttling SMS",
    "ThrottlingException": "SNS is throttling SMS",
}
PERMANENT = {"InvalidParameter", "OptedOut", "AuthorizationError"}


def send(number: str, text: str) -> Outcome:
    failed, _ = aws.call("SNS", lambda: aws.publish_sms(number, text[:MAX_LENGTH]), REFUSALS, PERMANENT)
    return failed or Outcome(True, f"SNS took the SMS to {masked(number)}")


def masked(number: str) -> str:
    """How a timeline shows a number: its last four digits."""
    return "..." + number[-4:]
