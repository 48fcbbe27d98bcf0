"""What watches oncall: an operations topic that does not go through oncall, the
alarms that publish to it, a queue for what the functions could not process, the
functions' log groups with a retention, and a dashboard.

The heartbeat alarms treat missing data as breaching: a sweep that stopped
running writes no metric at all, and silence is exactly what must page."""

import json

from chalicelib import telemetry

OPERATIONS_TOPIC = "OperationsTopic"
FAILURE_QUEUE = "FailureQueue"
DASHBOARD = "Dashboard"
ALARM_EMAIL = "AlarmEmail"
HAS_ALARM_EMAIL = "HasAlarmEmail"
LOG_RETENTION = "LogRetentionDays"

MINUTE = 60


def topic_and_queue(stage: str) -> dict:
    return {
        OPERATIONS_TOPIC: {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": f"oncall-{stage}-operations", "DisplayName": f"oncall {stage} operations"},
        },
        "OperationsEmail": {
            "Type": "AWS::SNS::Subscription",
            "Condition": HAS_ALARM_EMAIL,
            "Properties": {
                "TopicArn": {"Ref": OPERATIONS_TOPIC},
                "Protocol": "email",
                "Endpoint": {"Ref": ALARM_EMAIL},
            },
        },
        FAILURE_QUEUE: {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": f"oncall-{stage}-failures",
                "MessageRetentionPeriod": 14 * 24 * 3600,
                "SqsManagedSseEnabled": True,
            },
        },
    }


def _alarm(description: str, metric: dict, *, threshold: float, comparison: str, periods: int, missing: str) -> dict:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            **metric,
            "Period": MINUTE,
            "EvaluationPeriods": periods,
            "DatapointsToAlarm": periods,
            "Threshold": threshold,
            "ComparisonOperator": comparison,
            "TreatMissingData": missing,
            "AlarmActions": [{"Ref": OPERATIONS_TOPIC}],
            "OKActions": [{"Ref": OPERATIONS_TOPIC}],
        },
    }


def _ours(name: str, statistic: str, stage: str) -> dict:
    return {
        "Namespace": telemetry.NAMESPACE,
        "MetricName": name,
        "Dimensions": [{"Name": telemetry.DIMENSION, "Value": f"oncall-{stage}"}],
        "Statistic": statistic,
    }


def _lambda(name: str, function: str) -> dict:
    return {
        "Namespace": "AWS/Lambda",
        "MetricName": name,
        "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function}}],
        "Statistic": "Sum",
    }


# Alarms on oncall's own figures: (logical id, metric, statistic, comparison, threshold,
# one-minute periods that must breach, what no data means, what it means for a person).
# fmt: off
OWN_ALARMS = (
    ("SweepHeartbeatAlarm", telemetry.SWEEP_RUNS, "Sum", "LessThanThreshold", 1, 3, "breaching",
     "The escalation sweep has not finished a run for 3 minutes: nobody is being escalated."),
    ("NotifierHeartbeatAlarm", telemetry.NOTIFIER_RUNS, "Sum", "LessThanThreshold", 1, 3, "breaching",
     "The notifier's minute run has not finished for 3 minutes: retries and delayed pages are not sent."),
    ("SweepLagAlarm", telemetry.SWEEP_LAG, "Maximum", "GreaterThanThreshold", 120, 1, "notBreaching",
     "The oldest due escalation step was more than 2 minutes late when the sweep found it."),
    ("PagesFailedAlarm", telemetry.PAGES_FAILED, "Sum", "GreaterThanOrEqualToThreshold", 1, 1, "notBreaching",
     "A page to a person was given up on (refused for good, or its last retry failed)."),
    ("ChannelMessagesFailedAlarm", telemetry.CHANNEL_MESSAGES_FAILED, "Sum", "GreaterThanOrEqualToThreshold", 1, 1,
     "notBreaching", "A channel message (Slack, webhook, SNS) was given up on after its last retry."),
)
# fmt: on


def alarms(stage: str, functions: dict[str, str]) -> dict:
    """`functions`: the logical id of each function, by its name in app.py."""
    found = {}
    for logical_id, metric, statistic, comparison, threshold, periods, missing, description in OWN_ALARMS:
        found[logical_id] = _alarm(
            description,
            _ours(metric, statistic, stage),
            threshold=threshold,
            comparison=comparison,
            periods=periods,
            missing=missing,
        )
    found["FailureQueueAlarm"] = _alarm(
        "An event a function could not process (a timer run, an SNS message, a stream batch) is in the failure queue.",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [FAILURE_QUEUE, "QueueName"]}}],
            "Statistic": "Maximum",
        },
        threshold=0,
        comparison="GreaterThanThreshold",
        periods=1,
        missing="notBreaching",
    )
    for name, function in sorted(functions.items()):
        for metric, what in (("Errors", "failed"), ("Throttles", "was throttled")):
            found[f"{function}{metric}Alarm"] = _alarm(
                f"The function {name} {what}.",
                _lambda(metric, function),
                threshold=1,
                comparison="GreaterThanOrEqualToThreshold",
                periods=1,
                missing="notBreaching",
            )
    return found


def log_group_name(stage: str, function: str) -> str:
    return f"/aws/lambda/oncall-{stage}-{function}"


def log_groups(stage: str, functions: dict[str, str]) -> dict:
    """A log group per function, made before it (so Lambda never makes one that
    keeps logs forever), and one for the API's access log."""
    found = {}
    for name, function in functions.items():
        found[f"{function}LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": log_group_name(stage, name), "RetentionInDays": {"Ref": LOG_RETENTION}},
        }
    found["ApiAccessLogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {
            "LogGroupName": f"/aws/apigateway/oncall-{stage}-access",
            "RetentionInDays": {"Ref": LOG_RETENTION},
        },
    }
    return found


def _widget(title: str, metrics: list, x: int, y: int, stat: str = "Sum") -> dict:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "metrics": metrics,
            "stat": stat,
            "period": MINUTE,
            "region": "${AWS::Region}",
            "view": "timeSeries",
        },
    }


def dashboard(stage: str, functions: dict[str, str]) -> dict:
    service = f"oncall-{stage}"

    def ours(*names: str) -> list:
        return [[telemetry.NAMESPACE, name, telemetry.DIMENSION, service] for name in names]

    def per_function(metric: str) -> list:
        return [["AWS/Lambda", metric, "FunctionName", "${" + function + "}"] for function in functions.values()]

    widgets = [
        _widget("Heartbeats (runs a minute)", ours(telemetry.SWEEP_RUNS, telemetry.NOTIFIER_RUNS), 0, 0),
        _widget("Sweep lag (seconds)", ours(telemetry.SWEEP_LAG), 12, 0, stat="Maximum"),
        _widget(
            "Alerts",
            ours(telemetry.ALERTS_RECEIVED, telemetry.INCIDENTS_OPENED, telemetry.ALERTS_FOLDED),
            0,
            6,
        ),
        _widget(
            "Pages and channel messages",
            ours(
                telemetry.PAGES_SENT,
                telemetry.PAGES_FAILED,
                telemetry.CHANNEL_MESSAGES_SENT,
                telemetry.CHANNEL_MESSAGES_FAILED,
            ),
            12,
            6,
        ),
        _widget("Function errors", per_function("Errors"), 0, 12),
        _widget("Function throttles", per_function("Throttles"), 12, 12),
    ]
    return {
        DASHBOARD: {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": service,
                "DashboardBody": {"Fn::Sub": json.dumps({"widgets": widgets}, separators=(",", ":"))},
            },
        }
    }
