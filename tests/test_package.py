"""`make package` for the prod stage, checked end to end.

The fixture runs the Makefile's `package` target (with the venv of the Python
running pytest) into a temporary directory, from a shell that carries settings
meant for the local runtime, then the tests read the SAM template it wrote:
tables as the models declare them, least-privilege roles, the prod environment
and nothing else, the schedules, the incidents stream that wakes the notification
function, and a clean cfn-lint report.
Nothing here talks to AWS; `chalice package` only fetches Linux wheels from PyPI
(once: Chalice caches the built package under .chalice/deployments/).
"""

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pynamodb.indexes import GlobalSecondaryIndex, LocalSecondaryIndex

from chalicelib.config import settings
from chalicelib.models import ALL_MODELS, NOTIFIER_STREAM_FILTER, Incident

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.executable).parent.parent  # not resolved: a venv's python is a symlink
STAGE = "prod"
PREFIX = f"oncall-{STAGE}"

# What a developer's shell may hold for `make run`; none of it may reach the package.
SHELL_LEFTOVERS = {
    "ONCALL_STAGE": "local",
    "ONCALL_TABLE_PREFIX": "oncall-leaked",
    "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8765",
    "ONCALL_DEMO": "1",
}

ITEM_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
}
LOG_ACTIONS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
# What Lambda's event source mapping needs of the function's role to poll a stream.
STREAM_ACTIONS = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}
TABLE_ARNS = {f"arn:aws:dynamodb:*:*:table/{PREFIX}-*", f"arn:aws:dynamodb:*:*:table/{PREFIX}-*/index/*"}
LOG_ARNS = {
    f"arn:aws:logs:*:*:log-group:/aws/lambda/{PREFIX}",
    f"arn:aws:logs:*:*:log-group:/aws/lambda/{PREFIX}:*",
    f"arn:aws:logs:*:*:log-group:/aws/lambda/{PREFIX}-*",
}
# SNS notification channels may only publish to the stage's own topics (docs/deploy.md).
TOPIC_ARNS = {f"arn:aws:sns:*:*:{PREFIX}-*"}
# The IAM action each AWS SDK call the code makes needs, and the resources it is granted on.
SDK_ACTIONS = {("sns", "publish"): "sns:Publish", ("ses", "send_email"): "ses:SendEmail"}
# The resources each SDK action may be granted on, statement by statement. SMS to a phone
# number has no ARN: IAM grants it only on "*" (docs/integrations/sms.md).
SDK_RESOURCES = {
    "sns:Publish": [TOPIC_ARNS, {"*"}],
    "ses:SendEmail": [{"arn:aws:ses:*:*:identity/*"}],
}
# The stream function's own policy file (.chalice/config.json, lambda_functions).
STREAM_HANDLER = "app.notification_stream"
STREAM_POLICY = f"policy-{STAGE}-notification-stream.json"
# Calls that need dynamodb:DescribeTable (or table management), which the roles do not grant.
TABLE_CALLS = {"exists", "describe_table", "create_table", "delete_table", "update_ttl"}


@pytest.fixture(autouse=True)
def tables():
    """Overrides the conftest fixture of this name: nothing here needs a DynamoDB table."""
    yield


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    fragment = out / f"tables-{STAGE}.json"
    package_dir = out / "package"
    environment = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    environment.update(SHELL_LEFTOVERS)
    command = [
        "make",
        "--no-print-directory",
        f"--assume-old={VENV}/.installed",
        "package",
        f"VENV={VENV}",
        f"PACKAGE_DIR={package_dir}",
        f"TABLES_FRAGMENT={fragment}",
    ]
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    template_path = package_dir / "sam.json"
    return {
        "dir": package_dir,
        "template_path": template_path,
        "template": json.loads(template_path.read_text()),
        "fragment": json.loads(fragment.read_text()),
    }


def of_type(template: dict, kind: str) -> dict:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


def prod_table_name(model) -> str:
    concept = model.Meta.table_name.removeprefix(settings().table_prefix + "-")
    return f"{PREFIX}-{concept}"


def keys_of(attributes) -> list[dict]:
    """Key schema from attribute declarations, HASH first, without pynamodb's schema helpers."""
    keys = [a for a in attributes if a.is_hash_key] + [a for a in attributes if a.is_range_key]
    return [{"AttributeName": a.attr_name, "KeyType": "HASH" if a.is_hash_key else "RANGE"} for a in keys]


def declared_indexes(model) -> dict:
    return {name: value for name, value in vars(model).items() if isinstance(value, GlobalSecondaryIndex)}


def expected_table(model) -> dict:
    definitions = {}
    table_attributes = list(model.get_attributes().values())
    for attribute in table_attributes:
        if attribute.is_hash_key or attribute.is_range_key:
            definitions[attribute.attr_name] = attribute.attr_type
    indexes = {}
    for index in declared_indexes(model).values():
        meta = index.Meta
        index_attributes = list(meta.attributes.values())
        for attribute in index_attributes:
            if attribute.is_hash_key or attribute.is_range_key:
                assert definitions.setdefault(attribute.attr_name, attribute.attr_type) == attribute.attr_type
        projection = {"ProjectionType": meta.projection.projection_type}
        if meta.projection.non_key_attributes:
            projection["NonKeyAttributes"] = list(meta.projection.non_key_attributes)
        indexes[meta.index_name] = {"KeySchema": keys_of(index_attributes), "Projection": projection}
    return {"KeySchema": keys_of(table_attributes), "definitions": definitions, "indexes": indexes}


def test_every_model_is_a_table_with_exactly_its_keys_and_indexes(package):
    tables = of_type(package["template"], "AWS::DynamoDB::Table")
    by_name = {t["Properties"]["TableName"]: t for t in tables.values()}
    assert sorted(by_name) == sorted(prod_table_name(model) for model in ALL_MODELS)

    for model in ALL_MODELS:
        assert not any(isinstance(v, LocalSecondaryIndex) for v in vars(model).values()), model.__name__
        table = by_name[prod_table_name(model)]
        properties = table["Properties"]
        expected = expected_table(model)

        assert properties["KeySchema"] == expected["KeySchema"], model.__name__
        definitions = properties["AttributeDefinitions"]
        assert len({d["AttributeName"] for d in definitions}) == len(definitions), model.__name__
        assert {d["AttributeName"]: d["AttributeType"] for d in definitions} == expected["definitions"]

        rendered = {i["IndexName"]: i for i in properties.get("GlobalSecondaryIndexes", [])}
        assert len(rendered) == len(properties.get("GlobalSecondaryIndexes", []))
        assert rendered.keys() == expected["indexes"].keys(), model.__name__
        for name, index in rendered.items():
            assert index == {"IndexName": name, **expected["indexes"][name]}, f"{model.__name__}.{name}"
        assert "LocalSecondaryIndexes" not in properties

        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert "ProvisionedThroughput" not in properties
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_template_holds_the_rendered_tables_unchanged(package):
    for name, resource in package["fragment"]["Resources"].items():
        if "Type" in resource:  # not an amendment to a resource chalice made
            assert package["template"]["Resources"][name] == resource, name


def test_requests_the_gateway_answers_itself_get_the_json_error_shape(package):
    responses = of_type(package["template"], "AWS::ApiGateway::GatewayResponse")
    assert package["template"]["Resources"]["RestAPI"]["Type"] == "AWS::Serverless::Api"
    by_type = {r["Properties"]["ResponseType"]: r["Properties"] for r in responses.values()}
    assert set(by_type) == {"MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX"}
    assert all(props["RestApiId"] == {"Ref": "RestAPI"} for props in by_type.values())
    missing = by_type["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["StatusCode"] == "404"
    assert json.loads(missing["ResponseTemplates"]["application/json"])["code"] == "not_found"
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        template = by_type[kind]["ResponseTemplates"]["application/json"]
        filled = template.replace("$context.error.messageString", '"Missing Authentication Token"')
        assert json.loads(filled) == {"error": "Missing Authentication Token", "code": "gateway"}


def test_only_dedup_alert_tally_delivery_sns_message_alarm_state_and_stats_items_expire(package):
    tables = of_type(package["template"], "AWS::DynamoDB::Table").values()
    ttl = {t["Properties"]["TableName"]: t["Properties"].get("TimeToLiveSpecification") for t in tables}
    assert ttl.pop(f"{PREFIX}-dedup") == {"AttributeName": "expires_at", "Enabled": True}
    assert ttl.pop(f"{PREFIX}-alert-tallies") == {"AttributeName": "expires_at", "Enabled": True}
    assert ttl.pop(f"{PREFIX}-deliveries") == {"AttributeName": "expires_at", "Enabled": True}
    assert ttl.pop(f"{PREFIX}-sns-messages") == {"AttributeName": "expires_at", "Enabled": True}
    assert ttl.pop(f"{PREFIX}-alarm-states") == {"AttributeName": "expires_at", "Enabled": True}
    # Only the on-call notices' claims carry it there (chalicelib/notify/shift_notices.py).
    assert ttl.pop(f"{PREFIX}-stats") == {"AttributeName": "expires_at", "Enabled": True}
    assert set(ttl.values()) == {None}


def test_tables_have_the_streams_their_models_declare(package):
    tables = of_type(package["template"], "AWS::DynamoDB::Table").values()
    streams = {t["Properties"]["TableName"]: t["Properties"].get("StreamSpecification") for t in tables}
    for model in ALL_MODELS:
        declared = getattr(model.Meta, "stream_view_type", None)
        expected = {"StreamViewType": declared} if declared else None
        assert streams[prod_table_name(model)] == expected, model.__name__
    assert streams[prod_table_name(Incident)] == {"StreamViewType": "NEW_IMAGE"}


def test_roles_grant_only_what_the_functions_call(package):
    """Items (through PynamoDB), logs, each SDK call the code makes, and, for the function
    a stream invokes, reading that stream. Nothing else, and each on its own resources."""
    template = package["template"]
    functions = of_type(template, "AWS::Serverless::Function")
    roles = of_type(template, "AWS::IAM::Role")
    role_of = {f["Properties"]["Handler"]: f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()}
    assert len(set(role_of.values())) == len(role_of) and set(role_of.values()) == set(roles)
    assert not any("Policies" in f["Properties"] for f in functions.values())
    stream_arns = {f"arn:aws:dynamodb:*:*:table/{prod_table_name(Incident)}/stream/*"}
    sdk_actions = {SDK_ACTIONS[call] for call in sdk_calls()}
    assert sdk_actions == {"sns:Publish", "ses:SendEmail"}

    for handler, name in role_of.items():
        role = roles[name]
        assert "ManagedPolicyArns" not in role["Properties"], name
        [policy] = role["Properties"]["Policies"]
        reads_stream = handler == STREAM_HANDLER
        policy_file = ROOT / ".chalice" / (STREAM_POLICY if reads_stream else f"policy-{STAGE}.json")
        assert policy["PolicyDocument"] == json.loads(policy_file.read_text()), name
        granted = set()
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement and "NotResource" not in statement
            actions = set(listed(statement["Action"]))
            resources = set(listed(statement["Resource"]))
            assert not any("*" in action for action in actions), actions
            if actions <= ITEM_ACTIONS:
                assert resources == TABLE_ARNS, name
            elif actions <= STREAM_ACTIONS:
                assert resources == stream_arns, name
            elif actions <= sdk_actions:
                assert all(resources in SDK_RESOURCES[action] for action in actions), name
            else:
                assert actions == LOG_ACTIONS and resources == LOG_ARNS, name
            granted |= actions
        assert granted == ITEM_ACTIONS | LOG_ACTIONS | sdk_actions | (STREAM_ACTIONS if reads_stream else set()), name
        assert not granted & {"dynamodb:Scan", "dynamodb:CreateTable", "dynamodb:DescribeTable"}


def test_the_dev_policies_are_the_prod_policies_on_dev_resources():
    for name in ("policy-{}.json", "policy-{}-notification-stream.json"):
        prod = (ROOT / ".chalice" / name.format("prod")).read_text()
        dev = (ROOT / ".chalice" / name.format("dev")).read_text()
        assert json.loads(dev) == json.loads(prod.replace("oncall-prod", "oncall-dev")), name
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    for stage in ("dev", "prod"):
        assert config["stages"][stage]["lambda_functions"] == {
            "notification_stream": {"iam_policy_file": f"policy-{stage}-notification-stream.json"}
        }


class _SdkCalls(ast.NodeVisitor):
    """Collects (service, method) for the AWS SDK calls a module makes. A client must come from
    a function that returns `boto3.client("<service>", ...)`; its calls are `factory().method(...)`.
    Any other use of boto3, or of a factory's client, is collected as (None, <the code>)."""

    def __init__(self, tree: ast.Module) -> None:
        self.found: set[tuple[str | None, str]] = set()
        self.factories: dict[str, str] = {}
        self.made: set[ast.Call] = set()
        self.imports_boto3 = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "boto3" for alias in node.names):
                self.imports_boto3 = True
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "boto3":
                self.found.add((None, ast.unparse(node)))
            if isinstance(node, ast.FunctionDef):
                for returned in ast.walk(node):
                    if isinstance(returned, ast.Return) and self._is_client(returned.value):
                        self.factories[node.name] = returned.value.args[0].value
                        self.made.add(returned.value)
        self.visit(tree)

    @staticmethod
    def _is_client(node) -> bool:
        return (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) == "boto3.client"
            and bool(node.args)
            and isinstance(node.args[0], ast.Constant)
        )

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
            made = func.value
            if isinstance(made.func, ast.Name) and made.func.id in self.factories:
                self.found.add((self.factories[made.func.id], func.attr))
                for argument in [*made.args, *made.keywords, *node.args, *node.keywords]:
                    self.visit(argument)
                return
        if isinstance(func, ast.Name) and func.id in self.factories:
            self.found.add((None, ast.unparse(node)))  # a client kept or passed around
        elif ast.unparse(func).startswith("boto3.") and node not in self.made:
            self.found.add((None, ast.unparse(node)))
        self.generic_visit(node)


def sdk_calls() -> set[tuple[str | None, str]]:
    calls = set()
    for path in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]:
        visitor = _SdkCalls(ast.parse(path.read_text()))
        assert visitor.found or not visitor.imports_boto3, (
            f"{path.relative_to(ROOT)}: boto3 used in an unrecognised way"
        )
        calls |= visitor.found
    return calls


def test_every_aws_sdk_call_is_one_the_roles_grant():
    """PynamoDB's DynamoDB calls are the item actions; any other client call needs its IAM
    action in SDK_ACTIONS and in the policy files, or this fails."""
    calls = sdk_calls()
    unknown = {call for call in calls if call not in SDK_ACTIONS}
    assert not unknown, f"AWS SDK calls with no IAM action here (add to SDK_ACTIONS and the policies): {unknown}"
    assert calls == {("sns", "publish"), ("ses", "send_email")}


class _TableCalls(ast.NodeVisitor):
    """Collects (enclosing function, method) for calls like `Model.exists()` or `model.create_table()`:
    a table-level method called on a plain name (an attribute's `.exists()` condition is not one)."""

    def __init__(self) -> None:
        self.found: set[tuple[str | None, str]] = set()
        self._functions: list[str] = []

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._functions.append(node.name)
        self.generic_visit(node)
        self._functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.attr in TABLE_CALLS:
            self.found.add((self._functions[-1] if self._functions else None, func.attr))
        self.generic_visit(node)


def table_calls(path: Path) -> set[tuple[str | None, str]]:
    visitor = _TableCalls()
    visitor.visit(ast.parse(path.read_text()))
    return visitor.found


def test_the_functions_never_need_table_management_permissions():
    """The roles leave out DescribeTable: only db.create_tables, which the local runtime
    and the tests call, touches table metadata. A new caller needs the policy widened."""
    for path in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]:
        calls = table_calls(path)
        if path == ROOT / "chalicelib" / "db.py":
            assert {function for function, _ in calls} <= {"create_tables"}, calls
        else:
            assert not calls, f"{path.relative_to(ROOT)} calls {sorted(calls)}"
            assert "create_tables" not in path.read_text(), path.relative_to(ROOT)


def test_functions_get_the_prod_stage_and_nothing_from_the_shell(package):
    functions = of_type(package["template"], "AWS::Serverless::Function")
    assert functions
    expected = {"ONCALL_STAGE": STAGE, "ONCALL_KEY_CACHE_SECONDS": "60"}
    # A stage deployed with `chalice deploy` names its incidents stream here (docs/deploy.md).
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    stream_arn = config["stages"][STAGE]["environment_variables"].get("ONCALL_INCIDENT_STREAM_ARN")
    if stream_arn:
        expected["ONCALL_INCIDENT_STREAM_ARN"] = stream_arn
    for name, function in functions.items():
        assert function["Properties"]["Environment"] == {"Variables": expected}, name
    assert "Globals" not in package["template"]
    text = package["template_path"].read_text()
    for value in SHELL_LEFTOVERS.values():
        if value not in ("1", "local"):
            assert value not in text


def test_the_escalation_sweep_and_notification_retries_are_scheduled_every_minute(package):
    functions = of_type(package["template"], "AWS::Serverless::Function")
    handlers = {f["Properties"]["Handler"]: f for f in functions.values()}
    assert set(handlers) == {
        "app.app",
        "app.escalation_sweep",
        "app.cloudwatch_alarms",
        "app.sms_replies",
        "app.notification_retries",
        "app.on_call_notices",
        STREAM_HANDLER,
    }
    for scheduled in ("app.escalation_sweep", "app.notification_retries"):
        assert list(handlers[scheduled]["Properties"]["Events"].values()) == [
            {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)"}}
        ], scheduled
    assert list(handlers["app.on_call_notices"]["Properties"]["Events"].values()) == [
        {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}}
    ]


def test_the_notification_function_reads_the_stream_of_the_incidents_table_the_stack_makes(package):
    template = package["template"]
    functions = of_type(template, "AWS::Serverless::Function")
    [stream_function] = [f for f in functions.values() if f["Properties"]["Handler"] == STREAM_HANDLER]
    [event] = stream_function["Properties"]["Events"].values()
    assert event["Type"] == "DynamoDB"
    properties = event["Properties"]
    assert properties["BatchSize"] == 100 and properties["StartingPosition"] == "LATEST"
    [table_id] = [
        name
        for name, t in of_type(template, "AWS::DynamoDB::Table").items()
        if t["Properties"]["TableName"] == prod_table_name(Incident)
    ]
    assert properties["Stream"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert "set-at-packaging" not in package["template_path"].read_text()
    assert template["Resources"][table_id]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    [only] = properties["FilterCriteria"]["Filters"]
    assert json.loads(only["Pattern"]) == NOTIFIER_STREAM_FILTER
    assert template["Outputs"][f"{table_id}StreamArn"]["Value"] == {"Fn::GetAtt": [table_id, "StreamArn"]}


def test_the_tables_only_template_gives_the_incident_stream_for_chalice_deploy(tmp_path):
    """`chalice deploy` reads ONCALL_INCIDENT_STREAM_ARN from this template's output (docs/deploy.md)."""
    output = tmp_path / "tables-only.json"
    environment = {**os.environ, **SHELL_LEFTOVERS}
    command = [sys.executable, "-m", "infra.render", "--stage", STAGE, "--tables-only", "--output", str(output)]
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    template = json.loads(output.read_text())
    assert {r["Type"] for r in template["Resources"].values()} == {"AWS::DynamoDB::Table"}
    [table_id] = [
        name for name, t in template["Resources"].items() if t["Properties"]["TableName"] == prod_table_name(Incident)
    ]
    assert template["Outputs"][f"{table_id}StreamArn"]["Value"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    lint = subprocess.run(
        [str(VENV / "bin" / "cfn-lint"), "--format", "json", str(output)], capture_output=True, text=True, timeout=300
    )
    assert lint.returncode & 1 == 0, lint.stderr
    assert [f for f in json.loads(lint.stdout or "[]") if f["Level"] == "Error"] == []


def test_cloudwatch_alarms_arrive_through_a_topic_the_stack_makes(package):
    template = package["template"]
    topics = of_type(template, "AWS::SNS::Topic")
    assert sorted(topics) == ["AlarmTopic", "SmsReplyTopic"]
    assert topics["AlarmTopic"]["Properties"]["TopicName"] == f"oncall-{STAGE}-alarms"
    functions = of_type(template, "AWS::Serverless::Function")
    alarms = next(f for f in functions.values() if f["Properties"]["Handler"] == "app.cloudwatch_alarms")
    assert list(alarms["Properties"]["Events"].values()) == [
        {"Type": "SNS", "Properties": {"Topic": {"Fn::Sub": "${AlarmTopic}"}}}
    ]
    assert template["Outputs"]["AlarmTopicArn"]["Value"] == {"Ref": "AlarmTopic"}


def test_sms_replies_arrive_through_a_topic_the_stack_makes(package):
    template = package["template"]
    topics = of_type(template, "AWS::SNS::Topic")
    assert topics["SmsReplyTopic"]["Properties"]["TopicName"] == f"oncall-{STAGE}-sms-replies"
    functions = of_type(template, "AWS::Serverless::Function")
    replies = next(f for f in functions.values() if f["Properties"]["Handler"] == "app.sms_replies")
    assert list(replies["Properties"]["Events"].values()) == [
        {"Type": "SNS", "Properties": {"Topic": {"Fn::Sub": "${SmsReplyTopic}"}}}
    ]
    assert template["Outputs"]["SmsReplyTopicArn"]["Value"] == {"Ref": "SmsReplyTopic"}


def test_the_deployment_package_holds_the_app_and_linux_dependencies(package):
    with zipfile.ZipFile(package["dir"] / "deployment.zip") as archive:
        names = archive.namelist()
    assert {"app.py", "chalicelib/models.py", "chalicelib/config.py"} <= set(names)
    assert any(n.startswith("pynamodb/") for n in names)
    assert any(n.startswith("pydantic_core/_pydantic_core.") and "linux" in n for n in names)
    assert "cryptography/hazmat/bindings/_rust.abi3.so" in names
    wheel = next(n for n in names if n.startswith("cryptography-") and n.endswith(".dist-info/WHEEL"))
    with zipfile.ZipFile(package["dir"] / "deployment.zip") as archive:
        assert "manylinux" in archive.read(wheel).decode() and "x86_64" in archive.read(wheel).decode()
    assert not [n for n in names if n.split("/")[0] in ("tests", "infra", "oncall_local", "build")]


def test_the_package_ships_bytecode_for_the_functions_python(package):
    runtime = {
        r["Properties"]["Runtime"]
        for r in package["template"]["Resources"].values()
        if "Runtime" in r.get("Properties", {})
    }
    assert runtime == {f"python{sys.version_info.major}.{sys.version_info.minor}"}
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(package["dir"] / "deployment.zip") as archive:
        names = set(archive.namelist())
        compiled = archive.read(f"chalicelib/incident/__pycache__/incidents.{tag}.pyc")
    for module in ("app", "chalicelib/incident/incidents", "chalicelib/models", "pynamodb/models", "pydantic/main"):
        folder, _, name = module.rpartition("/")
        assert f"{folder + '/' if folder else ''}__pycache__/{name}.{tag}.pyc" in names, module
    # An unchecked-hash pyc (PEP 552: flags 0b01): used without comparing to the source's time.
    assert int.from_bytes(compiled[4:8], "little") == 0b01


def test_cfn_lint_reports_no_errors(package):
    lint = subprocess.run(
        [str(VENV / "bin" / "cfn-lint"), "--format", "json", str(package["template_path"])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # The exit status is a bit mask: 2 errors, 4 warnings, 8 informational; 1 means cfn-lint failed.
    assert lint.returncode & 1 == 0, lint.stderr
    findings = json.loads(lint.stdout or "[]")
    for finding in findings:
        print(f"cfn-lint {finding['Level']} {finding['Rule']['Id']}: {finding['Message']}")
    assert [f for f in findings if f["Level"] == "Error"] == []
    assert lint.returncode & 2 == 0
