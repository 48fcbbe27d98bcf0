"""Render a stage's DynamoDB tables from the PynamoDB models as a CloudFormation fragment.

chalicelib/models.py is the only definition of the schema. This script imports
ALL_MODELS with the environment the stage's Lambda functions get (the stage's
`environment_variables` in .chalice/config.json), so the table names are the
ones the deployed code uses, and writes one AWS::DynamoDB::Table per model with
the key schema, attribute definitions and global secondary indexes PynamoDB
itself would send to CreateTable (Model._get_schema()), and the stream a model's
Meta declares (stream_view_type). `make package` merges the result into the
template `chalice package` generates, and points the notification function's
DynamoDB event at the incidents table's stream.

    python -m infra.render --stage prod --output build/tables-prod.json
"""

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"

# Variables a developer's shell may carry for the local runtime. The Lambda never
# gets them, so they must not change what is rendered.
SHELL_ONLY = ("ONCALL_TABLE_PREFIX", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB")

# DynamoDB expires items by a number attribute holding epoch seconds. A model that
# declares a pynamodb TTLAttribute needs no entry; these models keep a plain
# NumberAttribute, keyed here by model class name.
EXPIRES_BY = {
    "Dedup": "expires_at",
    "AlertTally": "expires_at",
    "Delivery": "expires_at",
    "SnsMessage": "expires_at",
    "AlarmState": "expires_at",
    "Stats": "expires_at",
}

STREAM_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")


# Logical ids chalice package gives app.cloudwatch_alarms and app.sms_replies and
# their SNS events, and those of the topics the stack makes for them.
ALARM_FUNCTION = "CloudwatchAlarms"
ALARM_SUBSCRIPTION = "CloudwatchAlarmsSnsSubscription"
ALARM_TOPIC = "AlarmTopic"
SMS_FUNCTION = "SmsReplies"
SMS_SUBSCRIPTION = "SmsRepliesSnsSubscription"
SMS_TOPIC = "SmsReplyTopic"

# Logical ids chalice package gives app.notification_stream and its DynamoDB event,
# and the model whose table's stream that event reads.
STREAM_FUNCTION = "NotificationStream"
STREAM_EVENT = "NotificationStreamDynamodbEventSource"
STREAM_MODEL = "Incident"


class RenderError(Exception):
    pass


def stage_environment(stage: str) -> dict[str, str]:
    """The environment variables Chalice sets for the stage's functions."""
    config = json.loads(CHALICE_CONFIG.read_text())
    stages = config.get("stages", {})
    if stage not in stages:
        raise RenderError(f"{CHALICE_CONFIG} defines no stage {stage!r}; it has {sorted(stages)}.")
    merged = dict(config.get("environment_variables", {}))
    merged.update(stages[stage].get("environment_variables", {}))
    if merged.get("ONCALL_STAGE") != stage:
        raise RenderError(f"Stage {stage!r} must set ONCALL_STAGE={stage} in {CHALICE_CONFIG}.")
    return merged


def import_models(stage: str) -> tuple:
    """Import ALL_MODELS configured as the stage's Lambda would configure them."""
    if "chalicelib" in sys.modules:
        raise RenderError("chalicelib is already imported; render in a fresh process (python -m infra.render).")
    for name in SHELL_ONLY:
        os.environ.pop(name, None)
    os.environ.update(stage_environment(stage))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from chalicelib.config import settings
    from chalicelib.models import ALL_MODELS

    if settings().stage != stage:
        raise RenderError(f"chalicelib configured itself for stage {settings().stage!r}, not {stage!r}.")
    return ALL_MODELS


def key_schema(elements: list[dict]) -> list[dict]:
    """CloudFormation wants the HASH element first; PynamoDB lists them in declaration order."""
    hashes = [e for e in elements if e["KeyType"] == "HASH"]
    ranges = [e for e in elements if e["KeyType"] == "RANGE"]
    if len(hashes) != 1 or len(ranges) > 1 or len(elements) != len(hashes) + len(ranges):
        raise RenderError(f"a key needs one HASH and at most one RANGE attribute, got {elements}")
    return [{"AttributeName": e["AttributeName"], "KeyType": e["KeyType"]} for e in hashes + ranges]


def projection(declared: dict) -> dict:
    rendered = {"ProjectionType": declared["ProjectionType"]}
    if declared.get("NonKeyAttributes"):
        rendered["NonKeyAttributes"] = list(declared["NonKeyAttributes"])
    return rendered


def expiry_attribute(model) -> str | None:
    declared = model._ttl_attribute()
    if declared is not None:
        return declared.attr_name
    name = EXPIRES_BY.get(model.__name__)
    if name is None:
        return None
    by_name = {attribute.attr_name: attribute for attribute in model.get_attributes().values()}
    if name not in by_name or by_name[name].attr_type != "N":
        raise RenderError(f"{model.__name__} has no number attribute {name!r} for DynamoDB to expire items by.")
    return name


def stream_view_type(model) -> str | None:
    # PynamoDB's create_table enables a stream whenever Meta has the attribute.
    if not hasattr(model.Meta, "stream_view_type"):
        return None
    declared = model.Meta.stream_view_type
    if declared not in STREAM_VIEW_TYPES:
        raise RenderError(f"{model.__name__}.Meta.stream_view_type is {declared!r}; use one of {STREAM_VIEW_TYPES}.")
    return declared


def table(model) -> dict:
    meta = model.Meta
    billing = getattr(meta, "billing_mode", None)
    if billing != "PAY_PER_REQUEST":
        raise RenderError(f"{model.__name__}.Meta.billing_mode is {billing!r}; the tables are PAY_PER_REQUEST.")
    schema = model._get_schema()
    if schema["local_secondary_indexes"]:
        raise RenderError(f"{model.__name__} declares local secondary indexes, which this renderer does not emit.")

    indexes = []
    for index in schema["global_secondary_indexes"]:
        if index.get("provisioned_throughput"):
            name = index["index_name"]
            raise RenderError(f"index {name} of {model.__name__} sets capacity on a PAY_PER_REQUEST table")
        indexes.append(
            {
                "IndexName": index["index_name"],
                "KeySchema": key_schema(index["key_schema"]),
                "Projection": projection(index["projection"]),
            }
        )

    properties = {
        "TableName": meta.table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": d["AttributeName"], "AttributeType": d["AttributeType"]}
            for d in schema["attribute_definitions"]
        ],
        "KeySchema": key_schema(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    }
    if indexes:
        properties["GlobalSecondaryIndexes"] = indexes
    expires_by = expiry_attribute(model)
    if expires_by:
        properties["TimeToLiveSpecification"] = {"AttributeName": expires_by, "Enabled": True}
    stream = stream_view_type(model)
    if stream:
        properties["StreamSpecification"] = {"StreamViewType": stream}
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }


def logical_id(model) -> str:
    return f"{model.__name__}Table"


# API Gateway answers some requests before the app sees them. These make those
# answers the app's JSON error shape; a path that matches no route (which API
# Gateway reports as a 403 "Missing Authentication Token") becomes a 404.
# The local server does the same for unmatched paths (oncall_local/server.py).
GATEWAY_RESPONSES = {
    "MissingRouteResponse": ("MISSING_AUTHENTICATION_TOKEN", "404", '"There is no such path or method."', "not_found"),
    "Gateway4xxResponse": ("DEFAULT_4XX", None, "$context.error.messageString", "gateway"),
    "Gateway5xxResponse": ("DEFAULT_5XX", None, "$context.error.messageString", "gateway"),
}
# The REST API resource in the template `chalice package` writes.
REST_API = "RestAPI"


def gateway_responses() -> dict:
    resources = {}
    for name, (response_type, status, message, code) in GATEWAY_RESPONSES.items():
        properties = {
            "RestApiId": {"Ref": REST_API},
            "ResponseType": response_type,
            # messageString arrives quoted, so both forms are JSON strings already.
            "ResponseTemplates": {"application/json": f'{{"error": {message}, "code": "{code}"}}'},
        }
        if status:
            properties["StatusCode"] = status
        resources[name] = {"Type": "AWS::ApiGateway::GatewayResponse", "Properties": properties}
    return resources


def subscribed_topic(logical_id: str, name: str, display: str, function: str, subscription: str) -> dict:
    """An SNS topic the stack makes, and the function subscribed to it.

    chalice package subscribes `@app.on_sns_message` to a topic it assumes exists; the
    stack makes the topic itself, so one deploy is enough and the topic goes with the stack.
    The merge can only overwrite values, so the subscription's Fn::Sub becomes one
    naming this topic, which also makes CloudFormation create the topic first."""
    topic = {"Fn::Sub": "${" + logical_id + "}"}
    return {
        logical_id: {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name, "DisplayName": display}},
        function: {"Properties": {"Events": {subscription: {"Properties": {"Topic": topic}}}}},
    }


def alarm_topic(stage: str) -> dict:
    """The topic CloudWatch alarms publish to (docs/integrations/cloudwatch.md)."""
    return subscribed_topic(
        ALARM_TOPIC, f"oncall-{stage}-alarms", f"oncall {stage} alarms", ALARM_FUNCTION, ALARM_SUBSCRIPTION
    )


def sms_reply_topic(stage: str) -> dict:
    """The topic a phone number's two-way SMS publishes replies to (docs/integrations/sms.md)."""
    return subscribed_topic(
        SMS_TOPIC, f"oncall-{stage}-sms-replies", f"oncall {stage} SMS replies", SMS_FUNCTION, SMS_SUBSCRIPTION
    )


def stream_source(streaming: dict) -> dict:
    """app.notification_stream's event reads the stream of STREAM_MODEL's table.

    chalice package writes the ARN the decorator was given, a placeholder at package
    time (chalicelib/config.py, incident_stream_arn); the merge overwrites it with the
    ARN of the stream the stack makes, which also orders the table before the mapping,
    and adds the event filter that keeps folded alerts from waking the notifier."""
    if STREAM_MODEL not in streaming:
        raise RenderError(f"the model {STREAM_MODEL} declares no stream (Meta.stream_view_type) for {STREAM_FUNCTION}")
    from chalicelib.models import NOTIFIER_STREAM_FILTER

    stream = {"Fn::GetAtt": [streaming[STREAM_MODEL], "StreamArn"]}
    wakes_on = {"Filters": [{"Pattern": json.dumps(NOTIFIER_STREAM_FILTER, separators=(",", ":"))}]}
    properties = {"Stream": stream, "FilterCriteria": wakes_on}
    return {STREAM_FUNCTION: {"Properties": {"Events": {STREAM_EVENT: {"Properties": properties}}}}}


def render(stage: str, *, tables_only: bool = False) -> dict:
    resources = {}
    outputs = {}
    streaming = {}
    for model in import_models(stage):
        name = logical_id(model)
        if name in resources:
            raise RenderError(f"two models render to the resource {name}")
        resources[name] = table(model)
        outputs[f"{name}Name"] = {"Description": f"{model.__name__} items", "Value": {"Ref": name}}
        if "StreamSpecification" in resources[name]["Properties"]:
            streaming[model.__name__] = name
            outputs[f"{name}StreamArn"] = {
                "Description": f"the stream of the {model.__name__} table",
                "Value": {"Fn::GetAtt": [name, "StreamArn"]},
            }
    names = [resource["Properties"]["TableName"] for resource in resources.values()]
    if len(set(names)) != len(names):
        raise RenderError(f"two models share a table name: {sorted(names)}")
    if not tables_only:
        resources.update(gateway_responses())
        resources.update(alarm_topic(stage))
        resources.update(sms_reply_topic(stage))
        resources.update(stream_source(streaming))
        outputs["AlarmTopicArn"] = {
            "Description": "point CloudWatch alarm actions here (ALARM and OK)",
            "Value": {"Ref": ALARM_TOPIC},
        }
        outputs["SmsReplyTopicArn"] = {
            "Description": "the two-way SMS destination of the phone number pages are sent from",
            "Value": {"Ref": SMS_TOPIC},
        }
    return {"Resources": resources, "Outputs": outputs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the DynamoDB tables of a stage from chalicelib/models.py.")
    parser.add_argument("--stage", default="prod", help="Chalice stage (default: prod)")
    parser.add_argument("--output", type=Path, help="file to write (default: standard output)")
    parser.add_argument(
        "--tables-only",
        action="store_true",
        help="only the tables, with their names and the incidents stream as outputs, as a template of their own "
        "(for `chalice deploy`, which makes the API itself)",
    )
    args = parser.parse_args(argv)
    try:
        fragment = render(args.stage, tables_only=args.tables_only)
    except RenderError as error:
        print(f"infra.render: {error}", file=sys.stderr)
        return 1
    text = json.dumps(fragment, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
