"""Each function's role: its own, granting what the code that function runs calls,
on this stack's resources in this region and account, and nothing else.

tests/test_package.py reads the code each handler reaches (app.py's handler, the
modules it imports) and fails when a function could make an AWS call its role
does not grant here, or is granted one it cannot make."""

# What a function may send beyond DynamoDB and its own logs.
CHANNEL_TOPICS = "channel topics"  # SNS notification channels (chalicelib/notify/senders.py)
SMS = "sms"  # pages and codes to phone numbers (chalicelib/transport/sms.py)
EMAIL = "email"  # pages by SES (chalicelib/transport/email.py)
EVERY_PAGE = frozenset({CHANNEL_TOPICS, SMS, EMAIL})

# Keyed by the name of the function in app.py ("api_handler" is the API's).
SENDS = {
    "api_handler": EVERY_PAGE,  # test notifications of channels, verification codes
    "escalation_sweep": frozenset(),
    "notification_retries": EVERY_PAGE,
    "notification_stream": EVERY_PAGE,
    "on_call_notices": EVERY_PAGE,
    "cloudwatch_alarms": frozenset(),
    "sms_replies": frozenset({SMS}),  # answers to "ack 123"
}

ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
]
STREAM_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
TRACE_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]


def _arn(service: str, resource: str) -> dict:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"}


def _allow(sid: str, actions: list[str], resources: list) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def statements(
    function: str,
    *,
    stage: str,
    log_group: str,
    stream_arn: dict | None,
    failure_queue: str | None,
    own_topics: list[str],
    tracing_condition: str,
) -> list:
    """The statements of `function`'s role. `own_topics` are the logical ids of the
    topics the stack makes: no function may publish to them, whatever else it may."""
    prefix = f"oncall-{stage}"
    found = [
        _allow(
            "TableItems",
            ITEM_ACTIONS,
            [_arn("dynamodb", f"table/{prefix}-*"), _arn("dynamodb", f"table/{prefix}-*/index/*")],
        ),
        _allow("OwnLogs", LOG_ACTIONS, [_arn("logs", f"log-group:{log_group}:*")]),
    ]
    if stream_arn is not None:
        # Lambda polls the stream with the role of the function it invokes.
        found.append(_allow("IncidentStream", STREAM_ACTIONS, [stream_arn]))
    if failure_queue is not None:
        found.append(_allow("FailureDestination", ["sqs:SendMessage"], [{"Fn::GetAtt": [failure_queue, "Arn"]}]))
    sends = SENDS[function]
    if CHANNEL_TOPICS in sends:
        found.append(_allow("ChannelTopics", ["sns:Publish"], [_arn("sns", f"{prefix}-*")]))
    if SMS in sends:
        # A publish to a phone number has no ARN: IAM grants it on "*" only.
        found.append(_allow("PagesBySms", ["sns:Publish"], ["*"]))
    if sends & {CHANNEL_TOPICS, SMS}:
        found.append(
            {
                "Sid": "NotTheStacksOwnTopics",
                "Effect": "Deny",
                "Action": ["sns:Publish"],
                "Resource": [{"Ref": topic} for topic in own_topics],
            }
        )
    if EMAIL in sends:
        found.append(_allow("PagesByEmail", ["ses:SendEmail"], [_arn("ses", "identity/*")]))
    # X-Ray takes segments on "*" only; granted when the Tracing parameter turns it on.
    found.append({"Fn::If": [tracing_condition, _allow("Traces", TRACE_ACTIONS, ["*"]), {"Ref": "AWS::NoValue"}]})
    return found


# Who may take a function's role: Lambda, and nothing else.
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def role(function: str, **where) -> dict:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": LAMBDA_TRUST,
            "Policies": [
                {
                    "PolicyName": f"{function}-calls",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": statements(function, **where)},
                }
            ],
        },
    }
