"""The stack: the SAM template `chalice package` writes, finished for production.

    python -m infra.stack --stage prod build/package

rewrites build/package/sam.json in place, adding what Chalice does not make:
- the DynamoDB tables, rendered from chalicelib/models.py (infra/tables.py);
- the SNS topics the stack owns (CloudWatch alarms in, SMS replies in) and the
  incidents stream as the notifier's event source, with its filter;
- a role per function granting only what that function calls (infra/policies.py);
- operator settings as template parameters, passed to the functions' environment;
- what watches oncall: an operations topic, alarms, a failure queue as the
  destination of every event a function gives up on, log groups with a retention
  and a dashboard (infra/operations.py);
- the API's JSON gateway responses in its Swagger body, stage throttling, an
  access log and the tracing option.

It runs in a fresh process: it imports the models with the stage's environment.
"""

import argparse
import json
import sys
from pathlib import Path

from infra import policies, tables

# The logical ids and names `chalice package` gives.
API = "RestAPI"
API_FUNCTION = "api_handler"
API_HANDLER = "app.app"
STREAM_FUNCTION = "notification_stream"
STREAM_EVENT = "NotificationStreamDynamodbEventSource"
STREAM_MODEL = "Incident"
SWEEP_FUNCTION = "escalation_sweep"
# The topics the stack makes for functions chalice subscribes to a topic by name.
SUBSCRIBED_TOPICS = {
    "cloudwatch_alarms": ("AlarmTopic", "CloudwatchAlarmsSnsSubscription", "alarms", "alarms"),
    "sms_replies": ("SmsReplyTopic", "SmsRepliesSnsSubscription", "sms-replies", "SMS replies"),
}

# API Gateway gives up on the function after 29 s: the function must stop first,
# so the caller gets the product's answer (or a 503), not the gateway's 504.
API_TIMEOUT_SECONDS = 25
# A timer's run that fails is not retried: the next minute's run is its retry. An SNS
# message (an alarm, an SMS reply) is retried twice over a few minutes, then kept
# in the failure queue with its payload for a person to look at.
TIMER_RETRIES = 0
MESSAGE_RETRIES = 2
MAX_EVENT_AGE_SECONDS = 3600
# A stream batch that fails is split to find the record that fails, retried a
# bounded number of times, and then left: the notifier's minute run finds every
# transition such a record carried (docs/deploy.md).
STREAM_RETRIES = 5
STREAM_MAX_RECORD_AGE_SECONDS = 600

# Where API Gateway serves the stage (the console, and the /act links of a page).
OWN_API_URL = {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"}

# Operator settings: template parameter -> (environment variable, declaration).
ENVIRONMENT_PARAMETERS = {
    "EscalateAfterSeconds": (
        "ONCALL_ESCALATE_AFTER_SECONDS",
        {
            "Type": "Number",
            "Default": 300,
            "MinValue": 60,
            "Description": "Seconds an unacknowledged incident waits "
            "before it escalates, for services with no escalation policy of their own.",
        },
    ),
    "DedupWindowSeconds": (
        "ONCALL_DEDUP_WINDOW_SECONDS",
        {
            "Type": "Number",
            "Default": 300,
            "MinValue": 1,
            "Description": "Seconds after its last alert that an "
            "alert with the same title (and no dedup key) still folds into an open incident.",
        },
    ),
    "SnsTopicArns": (
        "ONCALL_SNS_TOPIC_ARNS",
        {
            "Type": "String",
            "Default": "",
            "Description": "Comma-separated SNS topic ARNs allowed to post to the "
            "SNS endpoint (docs/integrations/cloudwatch.md); empty: only the stack's own alarm topic.",
        },
    ),
    "CloudwatchServices": (
        "ONCALL_CLOUDWATCH_SERVICES",
        {
            "Type": "String",
            "Default": "",
            "Description": "Alarm-name prefixes to services, as prefix=service, "
            "comma-separated (docs/integrations/cloudwatch.md).",
        },
    ),
    "CloudwatchTopicServices": (
        "ONCALL_CLOUDWATCH_TOPIC_SERVICES",
        {
            "Type": "String",
            "Default": "",
            "Description": "SNS topic ARNs to services, as arn=service, comma-separated.",
        },
    ),
    "CloudwatchService": (
        "ONCALL_CLOUDWATCH_SERVICE",
        {"Type": "String", "Default": "cloudwatch", "Description": "The service an alarm no mapping names goes to."},
    ),
    "CloudwatchSeverity": (
        "ONCALL_CLOUDWATCH_SEVERITY",
        {
            "Type": "String",
            "Default": "critical",
            "AllowedValues": ["critical", "error", "warning", "info"],
            "Description": "The severity of incidents CloudWatch alarms open.",
        },
    ),
    "CloudwatchInsufficientData": (
        "ONCALL_CLOUDWATCH_INSUFFICIENT_DATA",
        {
            "Type": "String",
            "Default": "nothing",
            "AllowedValues": ["nothing", "trigger", "resolve"],
            "Description": "What an alarm going to INSUFFICIENT_DATA does.",
        },
    ),
    "ConsoleUrl": (
        "ONCALL_CONSOLE_URL",
        {
            "Type": "String",
            "Default": "",
            "Description": "The console's address, for the links in pages and messages; empty: this stack's "
            "API address (https://<api id>.execute-api.<region>.amazonaws.com/api). Set it for a custom domain.",
        },
    ),
    "EmailFrom": (
        "ONCALL_EMAIL_FROM",
        {
            "Type": "String",
            "Default": "",
            "Description": "The SES-verified address pages by email come from; empty: no email pages (docs/deploy.md).",
        },
    ),
    "SlackBotToken": (
        "ONCALL_SLACK_BOT_TOKEN",
        {"Type": "String", "Default": "", "NoEcho": True, "Description": "Slack bot token for direct-message pages."},
    ),
    "SlackSigningSecret": (
        "ONCALL_SLACK_SIGNING_SECRET",
        {
            "Type": "String",
            "Default": "",
            "NoEcho": True,
            "Description": "Slack signing secret for buttons (docs/integrations/slack.md).",
        },
    ),
}
# Retention values CloudWatch Logs accepts, in days.
RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288]
STACK_PARAMETERS = {
    "AlarmEmail": {
        "Type": "String",
        "Default": "",
        "Description": "An address subscribed to the operations topic "
        "(it must confirm the subscription); empty: subscribe yourself.",
    },
    "LogRetentionDays": {
        "Type": "Number",
        "Default": 30,
        "AllowedValues": RETENTION_DAYS,
        "Description": "Days the functions' logs and the API's access log are kept.",
    },
    "Tracing": {
        "Type": "String",
        "Default": "PassThrough",
        "AllowedValues": ["PassThrough", "Active"],
        "Description": "Active: AWS X-Ray traces every function and the API stage.",
    },
    "ApiThrottleRateLimit": {
        "Type": "Number",
        "Default": 50,
        "MinValue": 1,
        "Description": "Requests per second each API method takes, steady state (API Gateway applies a "
        "stage's limits to each method separately).",
    },
    "ApiThrottleBurstLimit": {
        "Type": "Number",
        "Default": 100,
        "MinValue": 1,
        "Description": "Requests each API method takes in a burst.",
    },
    "SweepReservedConcurrency": {
        "Type": "Number",
        "Default": 2,
        "MinValue": 0,
        "Description": "Concurrency kept "
        "for the escalation sweep so no flood of requests starves it; 0 keeps none (an "
        "account whose Lambda concurrency quota is 10 cannot reserve any).",
    },
}
CONDITIONS = {
    "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]},
    "HasConsoleUrl": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ConsoleUrl"}, ""]}]},
    "TracingActive": {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]},
    "ReservesSweepConcurrency": {"Fn::Not": [{"Fn::Equals": [{"Ref": "SweepReservedConcurrency"}, "0"]}]},
}

# Requests API Gateway answers itself get the product's JSON error shape; a path
# no route matches (which API Gateway reports as a 403 "Missing Authentication
# Token") becomes a 404, as the local server answers it (oncall_local/server.py).
GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", '"There is no such path or method."', "not_found"),
    "DEFAULT_4XX": (None, "$context.error.messageString", "gateway"),
    "DEFAULT_5XX": (None, "$context.error.messageString", "gateway"),
}
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "time": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    # The route as declared ("/calendar/{token}"), not the path requested: a path may
    # carry a secret (a calendar feed's token, a page's signed link).
    "route": "$context.resourcePath",
    "status": "$context.status",
    "length": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "error": "$context.error.messageString",
}


def gateway_responses() -> dict:
    found = {}
    for kind, (status, message, code) in GATEWAY_RESPONSES.items():
        # messageString arrives quoted, so both forms are JSON strings already.
        response = {"responseTemplates": {"application/json": f'{{"error": {message}, "code": "{code}"}}'}}
        if status:
            response["statusCode"] = status
        found[kind] = response
    return found


def functions_of(template: dict) -> dict[str, str]:
    """The logical id of each function, by its name in app.py."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            handler = resource["Properties"]["Handler"]
            found[API_FUNCTION if handler == API_HANDLER else handler.removeprefix("app.")] = logical_id
    unknown = set(found) - set(policies.SENDS)
    if unknown or len(found) != len(policies.SENDS):
        raise tables.RenderError(f"functions {sorted(found)} do not match infra/policies.py's {sorted(policies.SENDS)}")
    return found


def _subscribe(resources: dict, stage: str, function_id: str, topic: tuple) -> None:
    """chalice package subscribes `@app.on_sns_message` to a topic it assumes exists; the
    stack makes the topic, so one deploy is enough and the topic goes with the stack."""
    logical_id, subscription, suffix, display = topic
    resources[logical_id] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": f"oncall-{stage}-{suffix}", "DisplayName": f"oncall {stage} {display}"},
    }
    events = resources[function_id]["Properties"]["Events"]
    events[subscription]["Properties"]["Topic"] = {"Ref": logical_id}


def _sms_replies_from_end_user_messaging(resources: dict, topic: str) -> None:
    """Two-way SMS publishes a reply to the topic as AWS End User Messaging SMS, which
    needs the topic's permission (for this account's numbers only)."""
    resources[f"{topic}Policy"] = {
        "Type": "AWS::SNS::TopicPolicy",
        "Properties": {
            "Topics": [{"Ref": topic}],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "RepliesFromThisAccountsNumbers",
                        "Effect": "Allow",
                        "Principal": {"Service": "sms-voice.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": {"Ref": topic},
                        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                    }
                ],
            },
        },
    }


def notifier_event_source(stream_table: str) -> dict:
    """The notifier's stream event: the stream of the incidents table the stack makes
    (chalice wrote a placeholder ARN), only for writes that leave work in the outbox."""
    from chalicelib.models import NOTIFIER_STREAM_FILTER

    return {
        "Stream": {"Fn::GetAtt": [stream_table, "StreamArn"]},
        "FilterCriteria": {"Filters": [{"Pattern": json.dumps(NOTIFIER_STREAM_FILTER, separators=(",", ":"))}]},
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": STREAM_RETRIES,
        "MaximumRecordAgeInSeconds": STREAM_MAX_RECORD_AGE_SECONDS,
        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["FailureQueue", "Arn"]}}},
    }


def _finish_function(resources: dict, stage: str, name: str, function_id: str, stream_table: str) -> None:
    from infra import operations

    function = resources[function_id]
    properties = function["Properties"]
    properties["FunctionName"] = f"oncall-{stage}-{name}"
    properties["Tracing"] = {"Ref": "Tracing"}
    variables = properties["Environment"]["Variables"]
    for parameter, (variable, _) in ENVIRONMENT_PARAMETERS.items():
        variables[variable] = {"Ref": parameter}
    if name != API_FUNCTION:
        # The functions that send pages link to this stack's own API unless told otherwise.
        # (Not the API's own function: the API's definition names it, so that would be a cycle;
        # it sends no links.)
        variables["ONCALL_CONSOLE_URL"] = {"Fn::If": ["HasConsoleUrl", {"Ref": "ConsoleUrl"}, OWN_API_URL]}
    role_id = f"{function_id}Role"
    reads_stream = name == STREAM_FUNCTION
    asynchronous = name != API_FUNCTION and not reads_stream
    resources[role_id] = policies.role(
        name,
        stage=stage,
        log_group=operations.log_group_name(stage, name),
        stream_arn={"Fn::Sub": "${" + stream_table + ".Arn}/stream/*"} if reads_stream else None,
        failure_queue=operations.FAILURE_QUEUE if name != API_FUNCTION else None,
        own_topics=[topic for topic, *_ in SUBSCRIBED_TOPICS.values()] + [operations.OPERATIONS_TOPIC],
        tracing_condition="TracingActive",
    )
    properties["Role"] = {"Fn::GetAtt": [role_id, "Arn"]}
    function["DependsOn"] = [f"{function_id}LogGroup"]
    if name == API_FUNCTION:
        properties["Timeout"] = API_TIMEOUT_SECONDS
    if name == SWEEP_FUNCTION:
        properties["ReservedConcurrentExecutions"] = {
            "Fn::If": ["ReservesSweepConcurrency", {"Ref": "SweepReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
        }
    if asynchronous:
        timer = any(event["Type"] == "Schedule" for event in properties.get("Events", {}).values())
        properties["EventInvokeConfig"] = {
            "MaximumRetryAttempts": TIMER_RETRIES if timer else MESSAGE_RETRIES,
            "MaximumEventAgeInSeconds": MAX_EVENT_AGE_SECONDS,
            "DestinationConfig": {
                "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": [operations.FAILURE_QUEUE, "Arn"]}}
            },
        }


def _finish_api(resources: dict) -> None:
    properties = resources[API]["Properties"]
    properties["DefinitionBody"]["x-amazon-apigateway-gateway-responses"] = gateway_responses()
    # Any value keeps SAM from adding a second stage, "Stage", that has none of the
    # throttling, logging and tracing below.
    properties["OpenApiVersion"] = "2.0"
    properties["MethodSettings"] = [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "ApiThrottleRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "ApiThrottleBurstLimit"},
        }
    ]
    properties["AccessLogSetting"] = {
        "DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
        "Format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
    }
    properties["TracingEnabled"] = {"Fn::If": ["TracingActive", True, False]}
    # API Gateway writes access logs with a role set once per account and region.
    # The role is kept when the stack goes, since other APIs in the account may use it.
    resources["ApiGatewayLogsRole"] = {
        "Type": "AWS::IAM::Role",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "apigateway.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "ManagedPolicyArns": [
                {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}
            ],
        },
    }
    resources["ApiGatewayAccount"] = {
        "Type": "AWS::ApiGateway::Account",
        "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}},
    }
    resources[API]["DependsOn"] = ["ApiGatewayAccount"]


def finish(template: dict, stage: str) -> dict:
    from chalicelib.models import ALL_MODELS
    from infra import operations

    resources = template["Resources"]
    outputs = template.setdefault("Outputs", {})
    made, table_outputs = tables.tables(ALL_MODELS)
    resources.update(made)
    outputs.update(table_outputs)
    stream_table = tables.logical_id(next(model for model in ALL_MODELS if model.__name__ == STREAM_MODEL))
    if "StreamSpecification" not in resources[stream_table]["Properties"]:
        raise tables.RenderError(f"the model {STREAM_MODEL} declares no stream (Meta.stream_view_type)")

    functions = functions_of(template)
    for name, topic in SUBSCRIBED_TOPICS.items():
        _subscribe(resources, stage, functions[name], topic)
    _sms_replies_from_end_user_messaging(resources, SUBSCRIBED_TOPICS["sms_replies"][0])
    stream_event = resources[functions[STREAM_FUNCTION]]["Properties"]["Events"][STREAM_EVENT]
    stream_event["Properties"].update(notifier_event_source(stream_table))
    for name, function_id in functions.items():
        # chalice's own role, replaced by the function's own (infra/policies.py).
        resources.pop(f"{function_id}Role", None)
        _finish_function(resources, stage, name, function_id, stream_table)
    _finish_api(resources)

    resources.update(operations.topic_and_queue(stage))
    resources.update(operations.alarms(stage, functions))
    resources.update(operations.log_groups(stage, functions))
    resources.update(operations.dashboard(stage, functions))

    template["Parameters"] = {
        **{name: declaration for name, (_, declaration) in ENVIRONMENT_PARAMETERS.items()},
        **STACK_PARAMETERS,
    }
    template["Conditions"] = CONDITIONS
    outputs.update(
        {
            "AlarmTopicArn": {
                "Description": "point CloudWatch alarm actions here (ALARM and OK) to open incidents",
                "Value": {"Ref": "AlarmTopic"},
            },
            "SmsReplyTopicArn": {
                "Description": "the two-way SMS destination of the phone number pages are sent from",
                "Value": {"Ref": "SmsReplyTopic"},
            },
            "OperationsTopicArn": {
                "Description": "where the alarms about oncall itself go: subscribe the people who run it",
                "Value": {"Ref": operations.OPERATIONS_TOPIC},
            },
            "FailureQueueUrl": {
                "Description": "events a function gave up on, kept 14 days",
                "Value": {"Ref": operations.FAILURE_QUEUE},
            },
            "DashboardUrl": {
                "Description": "the CloudWatch dashboard of this stage",
                "Value": {
                    "Fn::Sub": "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}"
                    "#dashboards:name=${" + operations.DASHBOARD + "}"
                },
            },
        }
    )
    return template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Finish the SAM template `chalice package` wrote.")
    parser.add_argument("--stage", default="prod")
    parser.add_argument("package_dir", type=Path)
    args = parser.parse_args(argv)
    path = args.package_dir / "sam.json"
    try:
        tables.import_models(args.stage)
        template = finish(json.loads(path.read_text()), args.stage)
    except tables.RenderError as error:
        print(f"infra.stack: {error}", file=sys.stderr)
        return 1
    path.write_text(json.dumps(template, indent=2) + "\n")
    print(f"finished {path}: {len(template['Resources'])} resources, {len(template['Parameters'])} parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
