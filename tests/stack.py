"""The packaged SAM template as CloudFormation would deploy it, offline.

`translate` turns the SAM template of `make package` into plain CloudFormation with
samtranslator, after pointing every function's CodeUri at S3 as `aws cloudformation
package` would. It makes no AWS call: the region is given, and managed policy names
resolve from the map bundled with samtranslator.

`create_in_moto` creates that template as a stack in moto (us-east-1), with a dummy
object where the functions' code would be, and reads back through the service APIs
what the stack made. moto 5.2's CloudFormation creates, among others, IAM roles,
DynamoDB tables (key schema, attribute definitions, indexes, stream, billing mode;
it ignores TimeToLiveSpecification and PointInTimeRecoverySpecification), SNS topics,
SQS queues, EventBridge rules with their targets, Lambda functions (code, handler,
runtime, role, memory, timeout, environment, reserved concurrency; it ignores
Architectures, TracingConfig, DeadLetterConfig and tags), Lambda permissions and
event source mappings (DynamoDB streams and SQS), log groups and dashboards.

It does not create the types in MOTO_UNSUPPORTED. Those are left out of the stack,
and so is every resource that refers to one of them by Ref or Fn::GetAtt, since it
could not be created without it (a name in an Fn::Sub string becomes the stand-in
"left-out-<name>", so a function whose links name the API is still made); DependsOn entries and outputs naming a
left-out resource go too. For the packaged template that is the API Gateway REST
API with what hangs on it (deployment, stage, the permission to invoke the API
handler, the API's outputs), API Gateway's account settings, the CloudWatch alarms,
the functions' event invoke configs (failure destinations, retries) and the SNS
subscriptions.
`create_in_moto` reports each left-out resource with the reason.
A resource of a type moto skips but MOTO_UNSUPPORTED does not name fails the
creation, naming the type to add. Resources whose Condition is false are not made,
as in CloudFormation, and are not listed.
"""

import copy
import io
import json
import logging
import re
import zipfile
from urllib.parse import urlparse

import boto3
from moto import mock_aws
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

REGION = "us-east-1"
STACK_NAME = "oncall"
DEFAULT_CODE_URI = "s3://oncall-artifacts/deployment.zip"

# Resource types that moto's CloudFormation (moto 5.2.5) cannot create, and what it does with each.
MOTO_UNSUPPORTED = frozenset(
    {
        # moto creates a REST API from Name alone; Chalice's is defined by Body (OpenAPI) and has
        # no Name, so moto fails with KeyError('Name'). Given a Name, moto ignores Body, and the
        # API's deployment then fails: "The REST API doesn't contain any methods".
        "AWS::ApiGateway::RestApi",
        # The types below have no moto model: moto warns, creates nothing, lists a resource with
        # no logical id or type in the stack, and fails the creation on a Ref or Fn::GetAtt to it.
        "AWS::ApiGateway::Stage",
        "AWS::ApiGateway::GatewayResponse",
        "AWS::ApiGateway::Account",
        "AWS::SNS::Subscription",
        "AWS::SNS::TopicPolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::Lambda::EventInvokeConfig",
    }
)

# What moto logs (to its "moto" logger) whenever it meets a resource type it has no model for.
_NO_MODEL = "No Moto CloudFormation support for %s"
# A ${Name} or ${Name.Attribute} in Fn::Sub; ${!Literal} is no reference.
_SUB_REFERENCE = re.compile(r"\$\{([^!}][^}]*)\}")


def translate(sam_template: dict, code_uri: str = DEFAULT_CODE_URI) -> dict:
    """Plain CloudFormation for a SAM template, its functions' code at code_uri."""
    template = copy.deepcopy(sam_template)
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in resource.get("Properties", {}):
            resource["Properties"]["CodeUri"] = code_uri
    function_globals = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = code_uri
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    return translator.translate(template, parameter_values={}, get_managed_policy_map=dict)


def referenced(value) -> set[str]:
    """The names (logical ids, parameters, pseudo parameters) that the intrinsic functions in value refer to."""
    names: set[str] = set()
    if isinstance(value, list):
        for item in value:
            names |= referenced(item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                names.add(inner)
            elif key == "Fn::GetAtt":
                if isinstance(inner, str):
                    names.add(inner.split(".")[0])
                else:
                    names.add(inner[0])
                    names |= referenced(inner[1:])
            elif key == "Fn::Sub":
                text, variables = (inner, {}) if isinstance(inner, str) else (inner[0], inner[1])
                names |= {match.split(".")[0] for match in _SUB_REFERENCE.findall(text)} - set(variables)
                names |= referenced(variables)
            else:
                names |= referenced(inner)
    return names


def for_moto(template: dict) -> tuple[dict, dict[str, str]]:
    """The template less what moto cannot create, and the reason each left-out resource is left out."""
    template = copy.deepcopy(template)
    resources = template["Resources"]
    dropped = {
        name: f"{resource['Type']} is in MOTO_UNSUPPORTED"
        for name, resource in resources.items()
        if resource["Type"] in MOTO_UNSUPPORTED
    }
    # An address built with Fn::Sub from a left-out resource (the functions' link to the
    # API) keeps its referrer: the name becomes a stand-in literal.
    for resource in resources.values():
        _stand_in(resource, set(dropped))
    while True:
        dependents = {}
        for name, resource in resources.items():
            missing = sorted(referenced(resource) & dropped.keys())
            if name not in dropped and missing:
                dependents[name] = f"refers to {', '.join(missing)}"
        if not dependents:
            break
        dropped.update(dependents)
    for name in dropped:
        del resources[name]
    for resource in resources.values():
        if "DependsOn" in resource:
            depends_on = resource["DependsOn"] if isinstance(resource["DependsOn"], list) else [resource["DependsOn"]]
            kept = [name for name in depends_on if name not in dropped]
            if kept:
                resource["DependsOn"] = kept
            else:
                del resource["DependsOn"]
    if "Outputs" in template:
        template["Outputs"] = {
            key: output for key, output in template["Outputs"].items() if not referenced(output) & dropped.keys()
        }
    return template, dropped


def stand_in(name: str) -> str:
    return f"left-out-{name}"


def _stand_in(value, names: set[str]) -> None:
    """Replace ${name} and ${name.Attribute} of `names` in every Fn::Sub string of value, in place."""
    if isinstance(value, list):
        for item in value:
            _stand_in(item, names)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key == "Fn::Sub" and isinstance(inner, str):
                value[key] = _SUB_REFERENCE.sub(
                    lambda match: (
                        stand_in(match.group(1).split(".")[0])
                        if match.group(1).split(".")[0] in names
                        else match.group(0)
                    ),
                    inner,
                )
            else:
                _stand_in(inner, names)


class _SkippedTypes(logging.Handler):
    """Collects the resource types moto says it has no model for while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.types: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == _NO_MODEL:
            self.types.add(str(record.args[0]))

    def __enter__(self) -> "_SkippedTypes":
        logging.getLogger("moto").addHandler(self)
        return self

    def __exit__(self, *exc_info) -> None:
        logging.getLogger("moto").removeHandler(self)

    def __str__(self) -> str:
        """A clause for an error message."""
        if not self.types:
            return ""
        return f" (it has no model for {', '.join(sorted(self.types))}: add them to MOTO_UNSUPPORTED)"


def _dummy_code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "")
    return buffer.getvalue()


def _upload_code(session, template: dict) -> None:
    """A dummy zip wherever a function's code is said to be in S3."""
    s3 = session.client("s3")
    buckets: set[str] = set()
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        code = resource["Properties"].get("Code", {})
        bucket, key = code.get("S3Bucket"), code.get("S3Key")
        if not (isinstance(bucket, str) and isinstance(key, str)):
            continue
        if bucket not in buckets:
            s3.create_bucket(Bucket=bucket)
            buckets.add(bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=_dummy_code())


def _paged(client, operation: str, key: str, **kwargs) -> list:
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]]


def _created(session) -> dict:
    """What the account holds, read through each service's API, keyed by name, ARN or URL."""
    dynamodb = session.client("dynamodb")
    sqs = session.client("sqs")
    events = session.client("events")
    awslambda = session.client("lambda")
    functions = {}
    for function in _paged(awslambda, "list_functions", "Functions"):
        described = awslambda.get_function(FunctionName=function["FunctionName"])
        reserved = described.get("Concurrency", {}).get("ReservedConcurrentExecutions")
        functions[function["FunctionName"]] = {**described["Configuration"], "ReservedConcurrentExecutions": reserved}
    rules = {}
    for bus in events.list_event_buses()["EventBuses"]:
        for rule in _paged(events, "list_rules", "Rules", EventBusName=bus["Name"]):
            targets = _paged(events, "list_targets_by_rule", "Targets", Rule=rule["Name"], EventBusName=bus["Name"])
            rules[rule["Name"]] = {**rule, "Targets": targets}
    cloudwatch = session.client("cloudwatch")
    return {
        "tables": {
            name: dynamodb.describe_table(TableName=name)["Table"]
            for name in _paged(dynamodb, "list_tables", "TableNames")
        },
        "topics": sorted(topic["TopicArn"] for topic in _paged(session.client("sns"), "list_topics", "Topics")),
        "queues": {
            url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            for url in sqs.list_queues().get("QueueUrls", [])
        },
        "rules": rules,
        "alarms": {alarm["AlarmName"]: alarm for alarm in _paged(cloudwatch, "describe_alarms", "MetricAlarms")},
        "dashboards": sorted(d["DashboardName"] for d in _paged(cloudwatch, "list_dashboards", "DashboardEntries")),
        "functions": functions,
        "event_source_mappings": _paged(awslambda, "list_event_source_mappings", "EventSourceMappings"),
        "log_groups": {
            group["logGroupName"]: group.get("retentionInDays")
            for group in _paged(session.client("logs"), "describe_log_groups", "logGroups")
        },
        "roles": {role["RoleName"]: role["Arn"] for role in _paged(session.client("iam"), "list_roles", "Roles")},
    }


def create_in_moto(template: dict, parameters: dict[str, str] | None = None) -> dict:
    """Creates the (plain CloudFormation) template as a stack in moto and returns what it made.

    The result: "status" and "status_reason" of the stack; "dropped", each resource left out
    with the reason; "resources", each stack resource as {"logical_id", "type", "status",
    "physical_id"}; "outputs"; and from the service APIs, "tables" (DescribeTable by name),
    "topics" (ARNs), "queues" (attributes by URL), "rules" (with their "Targets", by name),
    "alarms" (by name), "dashboards" (names), "functions" (configuration and
    "ReservedConcurrentExecutions", by name), "event_source_mappings", "log_groups"
    (retention in days by name, None for never expire) and "roles" (ARN by name).
    """
    kept, dropped = for_moto(template)
    with mock_aws(), _SkippedTypes() as skipped:
        session = boto3.session.Session(region_name=REGION)
        _upload_code(session, kept)
        cloudformation = session.client("cloudformation")
        try:
            cloudformation.create_stack(
                StackName=STACK_NAME,
                TemplateBody=json.dumps(kept),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
            )
            cloudformation.get_waiter("stack_create_complete").wait(
                StackName=STACK_NAME, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
            )
        except Exception as error:
            raise AssertionError(f"moto could not create the stack{skipped}: {error!r}") from error
        if skipped.types:
            raise AssertionError(f"moto created the stack, but not all of it{skipped}")
        stack = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
        resources = [
            {
                "logical_id": r["LogicalResourceId"],
                "type": r["ResourceType"],
                "status": r["ResourceStatus"],
                "physical_id": r.get("PhysicalResourceId"),
            }
            for r in _paged(cloudformation, "list_stack_resources", "StackResourceSummaries", StackName=STACK_NAME)
            # moto lists a resource it did not make, here one whose Condition is false, with no logical id.
            if r.get("LogicalResourceId")
        ]
        return {
            "status": stack["StackStatus"],
            "status_reason": stack.get("StackStatusReason"),
            "dropped": dropped,
            "resources": resources,
            "outputs": {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])},
            **_created(session),
        }


def code_location(code_uri: str) -> tuple[str, str]:
    """The bucket and key of an s3:// URI."""
    parsed = urlparse(code_uri)
    return parsed.netloc, parsed.path.lstrip("/")
