"""The app: its routes (chalicelib/routes/, a blueprint per group) and the functions
AWS runs on a schedule, on the incidents table's stream and on SNS messages. Each
reads its event and calls one function in chalicelib."""

from chalice import Chalice, Rate

from chalicelib import config, logs, routes, telemetry
from chalicelib.escalation import sweep
from chalicelib.heartbeat import overdue
from chalicelib.integration import cloudwatch, inbound_sms, sns
from chalicelib.notify import delivery, shift_notices
from chalicelib.routes import http, routing

# app.log is the "oncall" logger, which chalicelib/logs.py configures, not Chalice.
app = Chalice(app_name="oncall", configure_logs=False)
logs.setup()
app.register_middleware(telemetry.invocation, "all")
app.register_middleware(http.uniform_errors, "http")
for blueprint in routes.BLUEPRINTS:
    app.register_blueprint(blueprint)

# Every operation, as the OpenAPI document and the access tests see them.
API = routing.CATALOGUE


@app.schedule(Rate(1, unit=Rate.MINUTES))
def escalation_sweep(event):
    # The same minute also opens the incidents of heartbeats that missed their check-in.
    return {**sweep.run(), "heartbeats_fired": overdue.run()["fired"]}


# Retries come due with time, not with a write: this picks them up in AWS.
@app.schedule(Rate(1, unit=Rate.MINUTES))
def notification_retries(event):
    return delivery.run()


# "You are on call" notices before each turn starts.
@app.schedule(Rate(5, unit=Rate.MINUTES))
def on_call_notices(event):
    return shift_notices.run()


# A transition writes the incident; its stream record wakes this within about a second.
@app.on_dynamodb_record(stream_arn=config.settings().incident_stream_arn, batch_size=100)
def notification_stream(event):
    return delivery.run_for(event.to_dict()["Records"])


# CloudWatch alarms through the stack's SNS topic (docs/integrations/cloudwatch.md).
@app.on_sns_message(topic=config.settings().alarm_topic)
def cloudwatch_alarms(event):
    return cloudwatch.receive_lambda_event(event.to_dict())


# SMS replies ("ack 123") through the stack's SNS topic (docs/integrations/sms.md).
@app.on_sns_message(topic=config.settings().sms_reply_topic)
def sms_replies(event):
    return inbound_sms.receive_lambda_event(event.to_dict())


# chalice's own event class raises on a record it cannot read, before the handler could skip it.
cloudwatch_alarms.event_class = sns.LenientSNSEvent
sms_replies.event_class = sns.LenientSNSEvent
