"""From outside: CloudWatch through SNS, Alertmanager, PagerDuty's Events API, Slack's buttons."""

from chalicelib import clock
from chalicelib.api import responses
from chalicelib.apikey.access import PUBLIC
from chalicelib.integration import alertmanager, cloudwatch, pagerduty, slack, sns
from chalicelib.routes.routing import Routes

routes = Routes("integrations")


# Public: SNS cannot send a key. Trusted by the topic allowlist and SNS's signature instead.
@routes(
    "/api/integrations/cloudwatch",
    "POST",
    admits=PUBLIC,
    summary="A CloudWatch alarm from an SNS HTTPS subscription, trusted by its SNS signature and topic, not a key. "
    "The service comes from the alarm name or the topic (settings), never from the URL: ?service_name= answers 400",
    body=sns.SnsEnvelope,
    responses={200: "accepted: what the message did"},
    answer=responses.SnsOutcome,
    errors=(403, 503),
)
def cloudwatch_https():
    request = routes.request()
    header = request.headers.get(sns.MESSAGE_TYPE_HEADER)
    return cloudwatch.receive_https(request.raw_body, header, request.query_params)


@routes(
    "/api/integrations/alertmanager",
    "POST",
    admits=alertmanager.ADMITS,
    summary="An Alertmanager webhook notification (version 4): one incident per alert group",
    body=alertmanager.AlertmanagerNotification,
    responses={201: "the group's incident was opened", 200: "folded, resolved, or nothing to do"},
    answer=responses.AlertmanagerOutcome,
)
def alertmanager_webhook(caller):
    notification = routes.body(alertmanager.AlertmanagerNotification)
    outcome, created = alertmanager.receive(notification, caller)
    return routes.created(outcome) if created else outcome


_PD_ERRORS = {
    400: (responses.PagerDutyError, "invalid event: malformed, or an invalid routing key (PagerDuty's shape)"),
    413: (responses.PagerDutyError, "the event is over 512 KB (PagerDuty's shape)"),
    429: (responses.PagerDutyError, "throttled: retry with backoff (PagerDuty's shape)"),
}


# Public in oncall's access model: the key is the body's routing_key, checked by the view.
@routes(
    "/v2/enqueue",
    "POST",
    admits=PUBLIC,
    summary="A PagerDuty Events API v2 event; routing_key is an oncall integration key",
    body=pagerduty.Event,
    status=202,
    responses={202: "Event processed"},
    answer=responses.PagerDutyAccepted,
    errors=(429,),
    own_errors=_PD_ERRORS,
)
def pagerduty_enqueue():
    return pagerduty.enqueue(routes.request().raw_body)


# Public: Slack cannot send a key. Trusted by Slack's signature and timestamp instead.
@routes(
    "/api/integrations/slack/interactivity",
    "POST",
    admits=PUBLIC,
    summary="A button pressed in Slack (Acknowledge, Resolve), trusted by Slack's v0 signature within 5 minutes",
    body_required=False,
    answer=responses.SlackOutcome,
    errors=(403,),
)
def slack_interactivity():
    request = routes.request()
    return responses.SlackOutcome(**slack.receive(request.headers, request.raw_body or b"", clock.now())).body()
