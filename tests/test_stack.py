"""The stack `make package` describes, translated to plain CloudFormation and created in moto.

The SAM template is translated offline with samtranslator (tests/stack.py), linted with
cfn-lint as plain CloudFormation, then created as a stack in moto. The checks go from
the translated template to what moto made: for each resource of a checked type, the
created table, topic, queue, rule, function, event source mapping, log group or
dashboard has what the template declares, so resources added to the template are
checked without a change here. What moto cannot create is listed in
tests.stack.MOTO_UNSUPPORTED; only that, and what cannot exist without it, is left out.
The alarms are among it; tests/test_package.py checks them in the template.
"""

import json
import subprocess
from unittest import mock

import pytest
from botocore.client import BaseClient
from moto.core import DEFAULT_ACCOUNT_ID

from tests.stack import (
    DEFAULT_CODE_URI,
    MOTO_UNSUPPORTED,
    REGION,
    STACK_NAME,
    code_location,
    create_in_moto,
    translate,
)
from tests.test_package import VENV, package  # noqa: F401  (the fixture that runs `make package`)

# Types whose every resource must be created, and is compared with the template below.
CHECKED_TYPES = {
    "AWS::IAM::Role",
    "AWS::DynamoDB::Table",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::Events::Rule",
    "AWS::Lambda::Function",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Logs::LogGroup",
    "AWS::CloudWatch::Dashboard",
}
# Pseudo parameters as moto gives them.
PSEUDO_PARAMETERS = {
    "AWS::AccountId": DEFAULT_ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::StackName": STACK_NAME,
    "AWS::URLSuffix": "amazonaws.com",
}
# What a reference resolves to when the stack holds nothing to resolve it from.
UNKNOWN = object()
# What AWS::NoValue resolves to: the property or list item is left out.
NO_VALUE = object()


@pytest.fixture(autouse=True)
def tables():
    """Overrides the conftest fixture of this name: the stack brings its own tables."""
    yield


@pytest.fixture(scope="module")
def cloudformation(package):  # noqa: F811
    return translate(package["template"])


@pytest.fixture(scope="module")
def parameters(cloudformation) -> dict[str, str]:
    """A value for every parameter: its default, else the first allowed value, else a placeholder."""
    values = {}
    for name, parameter in cloudformation.get("Parameters", {}).items():
        if "Default" in parameter:
            values[name] = str(parameter["Default"])
        elif parameter.get("AllowedValues"):
            values[name] = str(parameter["AllowedValues"][0])
        else:
            values[name] = "1" if "Number" in parameter["Type"] else "placeholder"
    return values


@pytest.fixture(scope="module")
def stack(cloudformation, parameters):
    return Created(create_in_moto(cloudformation, parameters), cloudformation, parameters)


class Created:
    """What create_in_moto returned, looked up by the template's logical ids, with the template's
    conditions and references evaluated against it."""

    def __init__(self, result: dict, cloudformation: dict, parameters: dict[str, str]):
        self.result = result
        self.conditions = cloudformation.get("Conditions", {})
        self.parameters = {**PSEUDO_PARAMETERS, **parameters}
        self.physical = {r["logical_id"]: r["physical_id"] for r in result["resources"]}
        self.types = {r["logical_id"]: r["type"] for r in result["resources"]}

    def __getitem__(self, key: str):
        return self.result[key]

    def exists(self, resource: dict) -> bool:
        """Whether the template's resource is made with these parameters (its Condition, if any, holds)."""
        return "Condition" not in resource or self.holds(resource["Condition"])

    def holds(self, condition: str) -> bool:
        return self._true(self.conditions[condition])

    def _true(self, expression: dict) -> bool:
        ((function, arguments),) = expression.items()
        if function == "Condition":
            return self.holds(arguments)
        if function == "Fn::Not":
            return not self._true(arguments[0])
        if function == "Fn::And":
            return all(self._true(argument) for argument in arguments)
        if function == "Fn::Or":
            return any(self._true(argument) for argument in arguments)
        if function == "Fn::Equals":
            left, right = (self.resolve(argument) for argument in arguments)
            assert known(left) and known(right), expression
            return str(left) == str(right)
        raise AssertionError(f"cannot evaluate {function} in a condition")

    def arn(self, logical_id: str):
        name, kind = self.physical[logical_id], self.types[logical_id]
        arns = {
            "AWS::Lambda::Function": lambda: self["functions"][name]["FunctionArn"],
            "AWS::SQS::Queue": lambda: self["queues"][name]["QueueArn"],
            "AWS::SNS::Topic": lambda: name,
            "AWS::DynamoDB::Table": lambda: self["tables"][name]["TableArn"],
            "AWS::IAM::Role": lambda: self["roles"][name],
            "AWS::Events::Rule": lambda: self["rules"][name]["Arn"],
        }
        return arns[kind]() if kind in arns else UNKNOWN

    def resolve(self, value):
        """The value with each Ref, Fn::GetAtt and Fn::If in it replaced by what the stack made (parameters
        as the strings CloudFormation passes); UNKNOWN inside where that is not known (other intrinsic
        functions, attributes not looked up); None for AWS::NoValue."""
        resolved = self._resolve(value)
        return None if resolved is NO_VALUE else resolved

    def _resolve(self, value):
        if isinstance(value, list):
            return [item for item in map(self._resolve, value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            name = value["Ref"]
            if name == "AWS::NoValue":
                return NO_VALUE
            return self.physical.get(name, self.parameters.get(name, UNKNOWN))
        if set(value) == {"Fn::If"}:
            condition, if_true, if_false = value["Fn::If"]
            return self._resolve(if_true if self.holds(condition) else if_false)
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            name, attribute = target if isinstance(target, list) else target.split(".", 1)
            if name not in self.physical:
                return UNKNOWN
            if attribute == "Arn":
                return self.arn(name)
            if attribute == "StreamArn" and self.types[name] == "AWS::DynamoDB::Table":
                return self["tables"][self.physical[name]].get("LatestStreamArn")
            return UNKNOWN
        if any(key.startswith("Fn::") for key in value):
            return UNKNOWN
        resolved = {key: self._resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}


def known(value) -> bool:
    if isinstance(value, list):
        return all(known(item) for item in value)
    if isinstance(value, dict):
        return all(known(item) for item in value.values())
    return value is not UNKNOWN


def number(value) -> int | None:
    """A resolved integer property (a parameter's value is a string) as the service reports it."""
    return None if value is None else int(value)


def created_of_type(cloudformation: dict, stack: Created, kind: str) -> dict[str, tuple[str, dict]]:
    """Logical id to (physical id, properties) of each resource of the type that the stack made."""
    return {
        name: (stack.physical[name], resource.get("Properties", {}))
        for name, resource in cloudformation["Resources"].items()
        if resource["Type"] == kind and name not in stack["dropped"] and stack.exists(resource)
    }


def test_the_translation_is_plain_cloudformation_with_the_code_in_s3(package, cloudformation):  # noqa: F811
    assert "Transform" not in cloudformation
    kinds = {resource["Type"] for resource in cloudformation["Resources"].values()}
    assert not [kind for kind in kinds if kind.startswith("AWS::Serverless::")]
    bucket, key = code_location(DEFAULT_CODE_URI)
    functions = [n for n, r in package["template"]["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    assert functions
    for name in functions:
        function = cloudformation["Resources"][name]
        assert function["Type"] == "AWS::Lambda::Function", name
        assert function["Properties"]["Code"] == {"S3Bucket": bucket, "S3Key": key}, name


def test_the_api_has_one_stage_and_it_is_throttled_and_logged(cloudformation):
    """SAM adds a stage named "Stage" beside the declared one unless the OpenAPI version is set;
    that stage would serve the API with no throttling, access log or tracing."""
    resources = cloudformation["Resources"]
    [stage] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert stage["StageName"] == "api"
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] == {"Ref": "ApiThrottleRateLimit"}
    assert "DestinationArn" in stage["AccessLogSetting"]
    deployments = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Deployment"]
    assert deployments and all("StageName" not in deployment for deployment in deployments)


def test_the_translation_calls_no_aws_api(package):  # noqa: F811
    refuse = AssertionError("the translation called an AWS API")
    with mock.patch.object(BaseClient, "_make_api_call", side_effect=refuse):
        assert translate(package["template"])["Resources"]


def test_cfn_lint_finds_no_errors_in_the_translation(cloudformation, tmp_path):
    path = tmp_path / "cloudformation.json"
    path.write_text(json.dumps(cloudformation, indent=1))
    lint = subprocess.run(
        [str(VENV / "bin" / "cfn-lint"), "--format", "json", str(path)], capture_output=True, text=True, timeout=300
    )
    # The exit status is a bit mask: 2 errors, 4 warnings, 8 informational; 1 means cfn-lint failed.
    assert lint.returncode & 1 == 0, lint.stderr
    findings = json.loads(lint.stdout or "[]")
    for finding in findings:
        where = "/".join(str(part) for part in finding["Location"]["Path"])
        print(f"cfn-lint {finding['Level']} {finding['Rule']['Id']} at {where}: {finding['Message']}")
    assert [f for f in findings if f["Level"] == "Error"] == []
    assert lint.returncode & 2 == 0


def test_the_stack_creates_every_resource_moto_supports(cloudformation, stack):
    assert stack["status"] == "CREATE_COMPLETE", stack["status_reason"]
    resources = cloudformation["Resources"]
    expected = {name for name, r in resources.items() if name not in stack["dropped"] and stack.exists(r)}
    assert sorted(stack.physical) == sorted(expected)
    assert {r["logical_id"]: r["status"] for r in stack["resources"] if r["status"] != "CREATE_COMPLETE"} == {}
    for name in expected:
        assert stack.types[name] == resources[name]["Type"], name


def test_the_outputs_give_what_the_stack_made(cloudformation, stack):
    outputs = cloudformation.get("Outputs", {})
    assert set(stack["outputs"]) <= set(outputs)
    print(f"outputs left out with the resources they name: {sorted(set(outputs) - set(stack['outputs']))}")
    for key, value in stack["outputs"].items():
        expected = stack.resolve(outputs[key]["Value"])
        if known(expected):
            assert value == str(expected), key


def test_only_what_moto_cannot_create_is_left_out(cloudformation, stack):
    resources = cloudformation["Resources"]
    for name, reason in sorted(stack["dropped"].items()):
        print(f"left out of the moto stack: {name} ({resources[name]['Type']}): {reason}")
        assert resources[name]["Type"] in MOTO_UNSUPPORTED or reason.startswith("refers to "), name
    checked = {name: resources[name]["Type"] for name in stack["dropped"] if resources[name]["Type"] in CHECKED_TYPES}
    assert checked == {}, "these could not be created in moto for want of what they refer to"


def test_every_table_has_the_declared_keys_indexes_stream_and_billing(cloudformation, stack):
    declared = created_of_type(cloudformation, stack, "AWS::DynamoDB::Table")
    assert sorted(stack["tables"]) == sorted(physical for physical, _ in declared.values())

    def indexes(described: list) -> dict:
        return {i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in described or []}

    for name, (physical, properties) in declared.items():
        table = stack["tables"][physical]
        if "TableName" in properties:
            assert physical == properties["TableName"], name
        assert table["KeySchema"] == properties["KeySchema"], name
        definitions = {d["AttributeName"]: d["AttributeType"] for d in properties["AttributeDefinitions"]}
        assert {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]} == definitions, name
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            assert indexes(table.get(kind)) == indexes(properties.get(kind)), f"{name} {kind}"
        stream = properties.get("StreamSpecification")
        if stream:
            assert table["StreamSpecification"] == {"StreamEnabled": True, **stream}, name
        else:
            assert not table.get("StreamSpecification", {}).get("StreamEnabled"), name
        assert table["BillingModeSummary"]["BillingMode"] == properties.get("BillingMode", "PROVISIONED"), name


def test_every_topic_exists(cloudformation, stack):
    declared = created_of_type(cloudformation, stack, "AWS::SNS::Topic")
    assert sorted(stack["topics"]) == sorted(physical for physical, _ in declared.values())
    for name, (arn, properties) in declared.items():
        if isinstance(properties.get("TopicName"), str):
            assert arn.endswith(f":{properties['TopicName']}"), name


def test_every_queue_exists_with_its_settings(cloudformation, stack):
    declared = created_of_type(cloudformation, stack, "AWS::SQS::Queue")
    assert sorted(stack["queues"]) == sorted(url for url, _ in declared.values())
    settings = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds")
    for name, (url, properties) in declared.items():
        attributes = stack["queues"][url]
        if isinstance(properties.get("QueueName"), str):
            assert url.endswith(f"/{properties['QueueName']}"), name
        for setting in (*settings, "VisibilityTimeout"):
            value = stack.resolve(properties.get(setting, UNKNOWN))
            if known(value):
                assert attributes[setting] == str(value), f"{name} {setting}"
        redrive = stack.resolve(properties.get("RedrivePolicy"))
        if redrive and known(redrive):
            created = json.loads(attributes["RedrivePolicy"])
            assert created["deadLetterTargetArn"] == redrive["deadLetterTargetArn"], name
            assert int(created["maxReceiveCount"]) == int(redrive["maxReceiveCount"]), name


def test_every_rule_has_its_schedule_and_targets(cloudformation, stack):
    declared = created_of_type(cloudformation, stack, "AWS::Events::Rule")
    assert sorted(stack["rules"]) == sorted(physical for physical, _ in declared.values())
    for name, (physical, properties) in declared.items():
        rule = stack["rules"][physical]
        assert rule.get("ScheduleExpression") == properties.get("ScheduleExpression"), name
        assert rule["State"] == properties.get("State", "ENABLED"), name
        if "EventPattern" in properties:
            assert json.loads(rule["EventPattern"]) == properties["EventPattern"], name
        targets = {target["Id"]: stack.resolve(target["Arn"]) for target in properties.get("Targets", [])}
        assert known(targets), name
        assert {target["Id"]: target["Arn"] for target in rule["Targets"]} == targets, name


def test_every_function_has_its_handler_runtime_limits_role_and_environment(cloudformation, stack):
    declared = created_of_type(cloudformation, stack, "AWS::Lambda::Function")
    assert sorted(stack["functions"]) == sorted(physical for physical, _ in declared.values())
    for name, (physical, properties) in declared.items():
        function = stack["functions"][physical]
        for setting in ("Handler", "Runtime"):
            assert function[setting] == stack.resolve(properties[setting]), f"{name} {setting}"
        for setting, default in (("Timeout", 3), ("MemorySize", 128), ("ReservedConcurrentExecutions", None)):
            assert function[setting] == number(stack.resolve(properties.get(setting, default))), f"{name} {setting}"
        assert function["Role"] == stack.resolve(properties["Role"]), name
        variables = stack.resolve(properties.get("Environment", {}).get("Variables", {}))
        created = function.get("Environment", {}).get("Variables", {})
        assert sorted(created) == sorted(variables), name
        # As strings: moto passes a Number parameter on as a number, where Lambda would hold its string.
        known_variables = {key: str(value) for key, value in variables.items() if known(value)}
        assert {key: str(created[key]) for key in known_variables} == known_variables, name


def test_every_event_source_mapping_joins_its_source_to_its_function(cloudformation, stack):
    declared = created_of_type(cloudformation, stack, "AWS::Lambda::EventSourceMapping")
    mappings = {mapping["UUID"]: mapping for mapping in stack["event_source_mappings"]}
    assert sorted(mappings) == sorted(physical for physical, _ in declared.values())
    for name, (physical, properties) in declared.items():
        mapping = mappings[physical]
        function = stack.resolve(properties["FunctionName"])
        assert mapping["FunctionArn"] in {function, stack["functions"].get(function, {}).get("FunctionArn")}, name
        assert mapping["EventSourceArn"] == stack.resolve(properties["EventSourceArn"]), name
        for setting in ("BatchSize", "MaximumBatchingWindowInSeconds"):
            if setting in properties:
                assert mapping[setting] == number(stack.resolve(properties[setting])), f"{name} {setting}"
        for setting in ("StartingPosition", "FilterCriteria"):
            if setting in properties:
                assert mapping[setting] == stack.resolve(properties[setting]), f"{name} {setting}"


def test_every_log_group_keeps_its_logs_as_long_as_declared(cloudformation, stack):
    declared = created_of_type(cloudformation, stack, "AWS::Logs::LogGroup")
    assert sorted(stack["log_groups"]) == sorted(physical for physical, _ in declared.values())
    for name, (physical, properties) in declared.items():
        assert stack["log_groups"][physical] == number(stack.resolve(properties.get("RetentionInDays"))), name


def test_every_dashboard_exists(cloudformation, stack):
    declared = created_of_type(cloudformation, stack, "AWS::CloudWatch::Dashboard")
    assert stack["dashboards"] == sorted(physical for physical, _ in declared.values())


def test_the_incidents_table_streams_new_images_to_the_notification_function(stack):
    incidents = stack["tables"][stack.physical["IncidentTable"]]
    assert incidents["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert stack["outputs"]["IncidentTableStreamArn"] == incidents["LatestStreamArn"]
    readers = [m for m in stack["event_source_mappings"] if m["EventSourceArn"] == incidents["LatestStreamArn"]]
    handlers = {f["FunctionArn"]: f["Handler"] for f in stack["functions"].values()}
    assert [handlers[m["FunctionArn"]] for m in readers] == ["app.notification_stream"]


def test_the_escalation_sweep_and_notification_retries_run_every_minute(stack):
    handlers = {f["FunctionArn"]: f["Handler"] for f in stack["functions"].values()}
    every_minute = {
        handlers[target["Arn"]]
        for rule in stack["rules"].values()
        if rule.get("ScheduleExpression") == "rate(1 minute)" and rule["State"] == "ENABLED"
        for target in rule["Targets"]
    }
    assert {"app.escalation_sweep", "app.notification_retries"} <= every_minute
