"""CloudWatch alarms delivered by SNS: to a Lambda subscribed to the alarm topic,
or POSTed to /api/integrations/cloudwatch by an HTTPS subscription.

ALARM triggers an incident (the alarm ARN is the dedup key, so repeats fold), OK
resolves the open incident of that alarm as its monitoring source, and
INSUFFICIENT_DATA does what ONCALL_CLOUDWATCH_INSUFFICIENT_DATA says (nothing,
trigger or resolve). A change older than one already applied to the alarm (by its
StateChangeTime) is stale and does nothing (chalicelib/integration/alarm_states.py). The
service comes from signed content and configuration only: the first
ONCALL_CLOUDWATCH_SERVICES prefix the alarm name starts with (longest first), else
the service ONCALL_CLOUDWATCH_TOPIC_SERVICES maps the topic to, else
ONCALL_CLOUDWATCH_SERVICE. See docs/integrations/cloudwatch.md.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pynamodb.exceptions import PynamoDBException

from chalicelib import clock, db, jsontext
from chalicelib.api import responses
from chalicelib.api.payloads import MAX_DESCRIPTION_BYTES, TriggerBody
from chalicelib.config import settings
from chalicelib.db import is_transient
from chalicelib.errors import Busy, InvalidInput, InvalidTransition, NotFound
from chalicelib.incident import incidents
from chalicelib.integration import alarm_states, receipts, sns
from chalicelib.itemsize import truncate_utf8

log = logging.getLogger("oncall.cloudwatch")

ALARM, OK, INSUFFICIENT_DATA = "ALARM", "OK", "INSUFFICIENT_DATA"
MAX_TITLE = 1024
MAX_DEDUP_KEY = 255
MAX_MESSAGE_ID = 256
MAX_TIME_TEXT = 64
# What an incident keeps of the alarm message (`details`), when present.
KEPT_FIELDS = (
    "AlarmName",
    "AlarmDescription",
    "AWSAccountId",
    "Region",
    "AlarmArn",
    "NewStateValue",
    "OldStateValue",
    "NewStateReason",
    "StateChangeTime",
    "Trigger",
)


class AlarmMessage(BaseModel):
    """The JSON string in an SNS Message that CloudWatch sends on a state change."""

    model_config = ConfigDict(strict=True, extra="ignore", defer_build=True)

    AlarmName: str = Field(min_length=1, max_length=255, pattern=r"\S")
    AlarmArn: str = Field(min_length=1, max_length=2048, pattern=r"^arn:")
    NewStateValue: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    NewStateReason: str | None = Field(default=None, max_length=MAX_DESCRIPTION_BYTES)
    AlarmDescription: str | None = Field(default=None, max_length=MAX_DESCRIPTION_BYTES)
    Region: str | None = Field(default=None, max_length=128)


@dataclass(frozen=True)
class Alarm:
    message: AlarmMessage
    details: dict
    # When the alarm changed state (StateChangeTime), if the message says.
    changed_at: datetime | None = None

    @property
    def state(self) -> str:
        return self.message.NewStateValue


def parse_alarm(raw: str | None, topic_arn: str | None = None, sent: datetime | None = None) -> Alarm:
    """The alarm in an SNS Message; raises InvalidInput naming the field at fault.
    `sent` is the SNS Timestamp of the message, when known."""
    if not isinstance(raw, str):
        raise InvalidInput("Message must be a string holding the alarm's JSON.", field="Message")
    try:
        data = jsontext.loads(raw)
    except jsontext.TooDeep as error:
        raise InvalidInput(f"Message {error}: it must be the alarm CloudWatch sends.", field="Message") from None
    except jsontext.NotJson:
        raise InvalidInput("Message is not JSON: it must be the alarm CloudWatch sends.", field="Message") from None
    if not isinstance(data, dict):
        raise InvalidInput("Message must be a JSON object: the alarm CloudWatch sends.", field="Message")
    try:
        message = AlarmMessage.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = "Message." + ".".join(str(part) for part in first["loc"])
        problem = "is required" if first["type"] == "missing" else first["msg"].lower()
        raise InvalidInput(f"{field} {problem}.", field=field) from None
    details = {name: data[name] for name in KEPT_FIELDS if name in data}
    if topic_arn:
        details["TopicArn"] = topic_arn
    return Alarm(message, details, _changed_at(data.get("StateChangeTime"), message.AlarmName, sent))


def _changed_at(raw, alarm_name: str, sent: datetime | None) -> datetime | None:
    """StateChangeTime (2026-11-26T08:40:00.123+0000), never later than SNS's Timestamp.

    CloudWatch changes the state before it publishes, so a genuine time is not later
    than the Timestamp SNS itself stamps. A later one comes from whoever else may
    publish to the topic; kept as it is, a time years ahead would make every real
    change of that alarm stale until the record expired. A time that cannot be read
    is left out: the change then acts whatever its order, as it did before times were
    compared, rather than being refused and lost (SNS does not retry a 4xx).
    """
    if raw is None:
        return None
    try:
        if not isinstance(raw, str) or len(raw) > MAX_TIME_TEXT:
            raise ValueError
        changed = clock.parse_iso(raw)
    except ValueError:
        log.warning("alarm %s: StateChangeTime %r is not a time; acting without ordering", alarm_name, str(raw)[:80])
        return None
    return min(changed, sent or clock.now())


# --- which service, which incident ----------------------------------------------------------


def service_for(alarm_name: str, topic_arn: str | None) -> str:
    """The alarm-name prefix's service, else the topic's, else the default."""
    cfg = settings()
    for prefix, service in cfg.cloudwatch_services:
        if alarm_name.startswith(prefix):
            return service
    for topic, service in cfg.cloudwatch_topic_services:
        if topic == topic_arn:
            return service
    return cfg.cloudwatch_default_service


def refuse_routing_in_url(query_params: dict | None) -> None:
    """The subscription URL is not signed: whoever replays a signed alarm could
    point it at any service. A URL that still tries is refused, never obeyed."""
    if query_params and "service_name" in query_params:
        log.warning("refused an SNS message whose URL names service_name; see docs/integrations/cloudwatch.md")
        raise InvalidInput(
            "service_name in the subscription URL does not choose the service: the URL is not signed. "
            "Route alarms with ONCALL_CLOUDWATCH_SERVICES (alarm-name-prefix=service) or "
            "ONCALL_CLOUDWATCH_TOPIC_SERVICES (topic-arn=service), then subscribe this URL without ?service_name=.",
            field="service_name",
        )


def dedup_key(alarm_arn: str) -> str:
    """The alarm ARN; an ARN longer than a dedup key may be stands in as its digest."""
    if len(alarm_arn) <= MAX_DEDUP_KEY:
        return alarm_arn
    return "sha256:" + hashlib.sha256(alarm_arn.encode()).hexdigest()


def actor_for(topic_arn: str | None) -> str:
    topic = (topic_arn or "").rsplit(":", 1)[-1]
    return f"cloudwatch ({topic})" if topic else "cloudwatch"


def _title(message: AlarmMessage) -> str:
    reason = (message.NewStateReason or "").strip()
    title = f"{message.AlarmName}: {reason}" if reason else f"{message.AlarmName} is in {message.NewStateValue}"
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"


def _description(message: AlarmMessage) -> str:
    parts = [part for part in (message.AlarmDescription, message.NewStateReason) if part and part.strip()]
    return truncate_utf8("\n\n".join(parts), MAX_DESCRIPTION_BYTES)


def outcome(action: str, incident_id: int | None = None) -> dict:
    return {"action": action, "incident_id": incident_id}


def plan(alarm: Alarm) -> str:
    """trigger, resolve or nothing, as the alarm's new state says."""
    return {ALARM: "trigger", OK: "resolve"}.get(alarm.state) or settings().cloudwatch_insufficient_data


def act(alarm: Alarm, service: str, actor: str, guard: db.Guard | None = None) -> dict:
    what = plan(alarm)
    if what == "trigger":
        return _trigger(alarm, service, actor, guard)
    if what == "resolve":
        return _resolve(alarm, service, actor, guard)
    return outcome("nothing")


def act_in_order(alarm: Alarm, service: str, actor: str) -> dict:
    """act(), unless a later state change of the alarm was applied first ("stale").
    A message without StateChangeTime acts whatever its order."""
    if alarm.changed_at is None:
        return act(alarm, service, actor)
    key = dedup_key(alarm.message.AlarmArn)
    changed_at = alarm_states.millis(alarm.changed_at)
    applied, later = alarm_states.apply(key, changed_at, alarm.state)
    if applied:
        try:
            return act(alarm, service, actor, alarm_states.guard(key, changed_at))
        except db.Superseded:
            later = None
    log.info(
        "ignored %s of alarm %s changed at %s: a later change (%s) was applied first",
        alarm.state,
        alarm.message.AlarmName,
        clock.iso(alarm.changed_at),
        "at " + clock.iso(clock.from_millis(later)) if later is not None else "while this one was acting",
    )
    return outcome("stale")


def act_once(message_id: str | None, alarm: Alarm, service: str, actor: str) -> dict:
    """act_in_order(), once per SNS MessageId (chalicelib/integration/receipts.py): a message acted
    on before answers "duplicate". A message that does nothing is not recorded. One
    whose action failed is released, so its next delivery acts; its StateChangeTime
    may already be the applied one, which a tie passes."""
    if plan(alarm) == "nothing":
        return outcome("nothing")
    if message_id is None:
        return act_in_order(alarm, service, actor)
    done = receipts.once(message_id, lambda: act_in_order(alarm, service, actor))
    return outcome("duplicate") if done is None else done


def _trigger(alarm: Alarm, service: str, actor: str, guard: db.Guard | None) -> dict:
    message = alarm.message
    try:
        body = TriggerBody(
            service_name=service,
            title=_title(message),
            description=_description(message),
            severity=settings().cloudwatch_severity,
            dedup_key=dedup_key(message.AlarmArn),
        )
    except ValidationError as error:
        raise InvalidInput(f"The alarm does not make a valid incident: {error.errors()[0]['msg']}.") from None
    region = message.Region or "unknown region"
    origin = incidents.Origin(source=f"cloudwatch: {region}", details=alarm.details)
    incident, created = incidents.trigger(body, actor, origin, guard=guard)
    return outcome("triggered" if created else "folded", incident["id"])


def _resolve(alarm: Alarm, service: str, actor: str, guard: db.Guard | None) -> dict:
    incident_id = incidents.incident_for_key(service, dedup_key(alarm.message.AlarmArn))
    if incident_id is None:
        return outcome("nothing")
    try:
        incidents.resolve(incident_id, actor, by_source=True, guard=guard)
    except (InvalidTransition, NotFound):
        # Resolved (or gone) between the lookup and the resolve: nothing left to do.
        return outcome("nothing")
    return outcome("resolved", incident_id)


# --- the two ways in ----------------------------------------------------------------------------


def receive_https(raw_body: bytes | None, message_type_header: str | None, query_params: dict | None) -> dict:
    """One POST from an SNS HTTPS subscription: parse (400), verify (403), then act."""
    refuse_routing_in_url(query_params)
    envelope = sns.read_envelope(raw_body, message_type_header)
    sns.verify(envelope)
    if envelope.Type == sns.SUBSCRIPTION_CONFIRMATION:
        sns.confirm_subscription(envelope)
        return _answer(envelope, outcome("confirmed"))
    if envelope.Type == sns.UNSUBSCRIBE_CONFIRMATION:
        log.info("SNS says the subscription to %s was removed", envelope.TopicArn)
        return _answer(envelope, outcome("nothing"))
    alarm = parse_alarm(envelope.Message, envelope.TopicArn, sns.sent_at(envelope.Timestamp))
    service = service_for(alarm.message.AlarmName, envelope.TopicArn)
    try:
        result = act_once(envelope.MessageId, alarm, service, actor_for(envelope.TopicArn))
    except PynamoDBException as error:
        # Nothing was recorded as done, so SNS's next delivery acts: ask for it.
        if not is_transient(error):
            log.exception("database error on SNS message %r", envelope.MessageId)
        raise Busy("The database could not record this alarm; SNS will deliver it again.", retry_after=5) from None
    return _answer(envelope, result)


def _answer(envelope: sns.SnsEnvelope, result: dict) -> dict:
    return responses.SnsOutcome(message_type=envelope.Type, **result).body()


def receive_lambda_event(event: dict) -> list[dict]:
    """Every record of an SNS event to the subscribed Lambda.

    A record that is not a CloudWatch alarm is logged and skipped: raising would make
    Lambda retry an event that can never succeed. Database errors (and contention
    that did not clear, or another delivery of a record still being processed) do
    raise, so Lambda retries the event; records already acted on are then duplicates.
    """
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        log.warning("skipped an SNS event without Records")
        return []
    results = []
    for number, record in enumerate(records):
        message = record.get("Sns") if isinstance(record, dict) else None
        if not isinstance(message, dict) or message.get("Type", sns.NOTIFICATION) != sns.NOTIFICATION:
            log.warning("skipped SNS record %d: not an SNS notification", number)
            continue
        topic_arn = message.get("TopicArn") if isinstance(message.get("TopicArn"), str) else None
        message_id = message.get("MessageId")
        if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_MESSAGE_ID:
            log.warning("SNS record %d has no usable MessageId: acting on it without recording it", number)
            message_id = None
        try:
            alarm = parse_alarm(message.get("Message"), topic_arn, _sent(message.get("Timestamp")))
            result = act_once(message_id, alarm, service_for(alarm.message.AlarmName, topic_arn), actor_for(topic_arn))
        except InvalidInput as error:
            log.warning("skipped SNS record %d (message %r): %s", number, message.get("MessageId"), error.message)
            continue
        log.info("CloudWatch alarm %s is %s: %s", alarm.message.AlarmName, alarm.state, result)
        results.append(result)
    return results


def _sent(timestamp) -> datetime | None:
    """A Lambda record's SNS Timestamp, if it is one."""
    try:
        return sns.sent_at(timestamp) if isinstance(timestamp, str) else None
    except ValueError:
        return None
