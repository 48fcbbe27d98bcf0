"""`make package` for the prod stage, checked end to end.

The fixture runs the Makefile's `package` target (with the venv of the Python
running pytest) into a temporary directory, from a shell that carries settings
meant for the local runtime, then the tests read the SAM template it wrote:
tables as the models declare them, a least-privilege role per function, the
prod environment and its parameters, the schedules, the incidents stream that
wakes the notification function, what watches the stack (alarms, failure
destinations, log retention), the package importing on its own, and a clean
cfn-lint report. tests/test_stack.py translates the template and creates it in
moto. Nothing here talks to AWS; `chalice package` only fetches Linux wheels from
PyPI (once: Chalice caches the built package under .chalice/deployments/).
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

from chalicelib import telemetry
from chalicelib.models import ALL_MODELS, NOTIFIER_STREAM_FILTER, Incident
from infra import policies, stack

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

# The IAM action each AWS SDK call the code makes needs.
SDK_ACTIONS = {("sns", "publish"): "sns:Publish", ("ses", "send_email"): "ses:SendEmail"}
# What each function of chalicelib/transport/aws.py sends, and the one module that calls it.
SENDING_CALLS = {
    "publish_to_topic": ("chalicelib.notify.senders", policies.CHANNEL_TOPICS),
    "publish_sms": ("chalicelib.transport.sms", policies.SMS),
    "send_email": ("chalicelib.transport.email", policies.EMAIL),
}
# Calls that need dynamodb:DescribeTable (or table management), which the roles do not grant.
TABLE_CALLS = {"exists", "describe_table", "create_table", "delete_table", "update_ttl"}
STREAM_HANDLER = "app.notification_stream"


@pytest.fixture(autouse=True)
def tables():
    """Overrides the conftest fixture of this name: nothing here needs a DynamoDB table."""
    yield


# Once per session: tests/test_stack.py reads the same build (conftest keeps both modules
# on one worker), and every reader leaves the directory and the template as they were.
@pytest.fixture(scope="session")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
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
    ]
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    template_path = package_dir / "sam.json"
    return {
        "dir": package_dir,
        "template_path": template_path,
        "template": json.loads(template_path.read_text()),
    }


def of_type(template: dict, kind: str) -> dict:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


def prod_table_name(model) -> str:
    # "oncall-<stage>-<concept>" as the models were configured at import, whatever the
    # settings cache holds now.
    concept = model.Meta.table_name.split("-", 2)[2]
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
        assert properties["DeletionProtectionEnabled"] is True
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_requests_the_gateway_answers_itself_get_the_json_error_shape_from_the_swagger(package):
    template = package["template"]
    assert template["Resources"]["RestAPI"]["Type"] == "AWS::Serverless::Api"
    assert not of_type(template, "AWS::ApiGateway::GatewayResponse")
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    assert set(responses) == {"MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX"}
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["statusCode"] == "404"
    assert json.loads(missing["responseTemplates"]["application/json"])["code"] == "not_found"
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        template = responses[kind]["responseTemplates"]["application/json"]
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


def _chalicelib_imports() -> dict[str, set[str]]:
    """Each chalicelib module -> the chalicelib modules it imports (a name imported from a
    package counts as both the package and that submodule)."""
    graph = {}
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chalicelib"):
                imported.add(node.module)
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names if alias.name.startswith("chalicelib")}
        graph[name] = imported
    return graph


def _reached(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module in graph and module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def _handler_entries() -> dict[str, set[str]]:
    """The function name in app.py -> the chalicelib modules its body calls into."""
    tree = ast.parse((ROOT / "app.py").read_text())
    aliases = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chalicelib"):
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    entries = {stack.API_FUNCTION: {aliases["routes"]}}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.decorator_list:
            called = {
                aliases[call.func.value.id]
                for call in ast.walk(node)
                if isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name)
                and call.func.value.id in aliases
            }
            entries[node.name] = called
    return entries


def test_sending_calls_are_each_made_from_one_module():
    callers: dict[str, set[str]] = {}
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "aws":
                callers.setdefault(node.attr, set()).add(module)
    sends = {name: modules for name, modules in callers.items() if name in SENDING_CALLS}
    assert sends == {name: {module} for name, (module, _) in SENDING_CALLS.items()}


def test_each_function_is_granted_what_the_code_it_runs_can_send_and_no_more():
    """What infra/policies.py grants each function equals what the modules its handler
    reaches (through imports) can send."""
    graph = _chalicelib_imports()
    entries = _handler_entries()
    assert set(entries) == set(policies.SENDS)
    for function, modules in entries.items():
        assert modules, function
        reached = set().union(*(_reached(graph, module) for module in modules))
        can_send = {what for module, what in SENDING_CALLS.values() if module in reached}
        assert set(policies.SENDS[function]) == can_send, function


def test_each_function_has_a_role_of_its_own_pinned_to_this_stack(package):
    template = package["template"]
    functions = of_type(template, "AWS::Serverless::Function")
    roles = of_type(template, "AWS::IAM::Role")
    role_of = {}
    for function in functions.values():
        [role_id, attribute] = function["Properties"]["Role"]["Fn::GetAtt"]
        assert attribute == "Arn"
        role_of[function["Properties"]["FunctionName"].removeprefix(f"{PREFIX}-")] = role_id
    assert set(role_of) == set(policies.SENDS)
    assert len(set(role_of.values())) == len(role_of)
    assert "set-by-infra-stack" not in package["template_path"].read_text()

    own_topics = sorted(of_type(template, "AWS::SNS::Topic"))
    for function, role_id in role_of.items():
        role = roles[role_id]["Properties"]
        assert "ManagedPolicyArns" not in role
        [policy] = role["Policies"]
        statements = {}
        for entry in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in entry:  # granted only with the Tracing parameter
                condition, granted, otherwise = entry["Fn::If"]
                assert (condition, otherwise) == ("TracingActive", {"Ref": "AWS::NoValue"})
                entry = granted
            statements[entry["Sid"]] = entry
        for sid, statement in statements.items():
            assert "NotAction" not in statement and "NotResource" not in statement
            assert not any("*" in action for action in listed(statement["Action"])), sid
            for resource in listed(statement["Resource"]):
                if resource == "*":  # only where IAM knows no narrower resource: a phone number, X-Ray
                    assert sid in ("PagesBySms", "Traces"), sid
                    continue
                # Else a resource of this stack, or an ARN in this stack's region and account.
                assert isinstance(resource, dict) and len(resource) == 1, resource
                arn = resource.get("Fn::Sub", "")
                if arn.startswith("arn:"):
                    assert arn.startswith("arn:${AWS::Partition}:"), arn
                    assert ":${AWS::Region}:${AWS::AccountId}:" in arn, arn
        sends = policies.SENDS[function]
        expected = {"TableItems", "OwnLogs", "Traces"}
        expected |= {"IncidentStream"} if function == stack.STREAM_FUNCTION else set()
        expected |= {"FailureDestination"} if function != stack.API_FUNCTION else set()
        expected |= {"ChannelTopics"} if policies.CHANNEL_TOPICS in sends else set()
        expected |= {"PagesBySms"} if policies.SMS in sends else set()
        expected |= {"PagesByEmail"} if policies.EMAIL in sends else set()
        expected |= {"NotTheStacksOwnTopics"} if sends & {policies.SMS, policies.CHANNEL_TOPICS} else set()
        assert set(statements) == expected, function
        for sid, statement in statements.items():
            assert statement["Effect"] == ("Deny" if sid == "NotTheStacksOwnTopics" else "Allow"), sid
        assert set(statements["TableItems"]["Action"]) == set(policies.ITEM_ACTIONS)
        assert not set(statements["TableItems"]["Action"]) & {"dynamodb:Scan", "dynamodb:DescribeTable"}
        assert statements["OwnLogs"]["Resource"] == [
            {
                "Fn::Sub": f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:"
                f"/aws/lambda/{PREFIX}-{function}:*"
            }
        ]
        if "NotTheStacksOwnTopics" in statements:
            assert sorted(r["Ref"] for r in statements["NotTheStacksOwnTopics"]["Resource"]) == own_topics
        if "ChannelTopics" in statements:
            [topics] = statements["ChannelTopics"]["Resource"]
            assert topics["Fn::Sub"].endswith(f":sns:${{AWS::Region}}:${{AWS::AccountId}}:{PREFIX}-*")
        if "IncidentStream" in statements:
            assert statements["IncidentStream"]["Resource"] == [{"Fn::Sub": "${IncidentTable.Arn}/stream/*"}]
            assert set(statements["IncidentStream"]["Action"]) == set(policies.STREAM_ACTIONS)


def test_chalice_makes_no_role_and_writes_no_policy_of_its_own():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    for stage in ("dev", "prod"):
        assert config["stages"][stage]["manage_iam_role"] is False
    assert not list((ROOT / ".chalice").glob("policy-*.json"))


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
    action in SDK_ACTIONS and a grant in infra/policies.py, or this fails."""
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


def test_functions_get_the_prod_stage_the_parameters_and_nothing_from_the_shell(package):
    template = package["template"]
    functions = of_type(template, "AWS::Serverless::Function")
    assert functions
    expected = {"ONCALL_STAGE": STAGE, "ONCALL_KEY_CACHE_SECONDS": "60"}
    expected |= {variable: {"Ref": name} for name, (variable, _) in stack.ENVIRONMENT_PARAMETERS.items()}
    own_api = {"Fn::If": ["HasConsoleUrl", {"Ref": "ConsoleUrl"}, stack.OWN_API_URL]}
    for name, function in functions.items():
        variables = dict(function["Properties"]["Environment"]["Variables"])
        if function["Properties"]["Handler"] == stack.API_HANDLER:
            assert variables == expected, name
        else:
            # Pages link to the stack's own API unless ConsoleUrl names another address.
            assert variables == expected | {"ONCALL_CONSOLE_URL": own_api}, name
    assert "Globals" not in template
    text = package["template_path"].read_text()
    for value in SHELL_LEFTOVERS.values():
        if value not in ("1", "local"):
            assert value not in text
    # Each variable is one the code reads, and each parameter's default is what the code
    # itself would take, so a stack deployed with defaults behaves as documented.
    config_source = (ROOT / "chalicelib" / "config.py").read_text()
    for name, (variable, declaration) in stack.ENVIRONMENT_PARAMETERS.items():
        assert f'"{variable}"' in config_source, variable
        assert template["Parameters"][name] == declaration
        assert declaration["Description"]
    for secret in ("SlackBotToken", "SlackSigningSecret"):
        assert template["Parameters"][secret]["NoEcho"] is True


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


def test_cloudwatch_alarms_arrive_through_a_topic_the_stack_makes(package):
    template = package["template"]
    topics = of_type(template, "AWS::SNS::Topic")
    assert sorted(topics) == ["AlarmTopic", "OperationsTopic", "SmsReplyTopic"]
    assert topics["AlarmTopic"]["Properties"]["TopicName"] == f"oncall-{STAGE}-alarms"
    functions = of_type(template, "AWS::Serverless::Function")
    alarms = next(f for f in functions.values() if f["Properties"]["Handler"] == "app.cloudwatch_alarms")
    assert list(alarms["Properties"]["Events"].values()) == [
        {"Type": "SNS", "Properties": {"Topic": {"Ref": "AlarmTopic"}}}
    ]
    assert template["Outputs"]["AlarmTopicArn"]["Value"] == {"Ref": "AlarmTopic"}


def test_sms_replies_arrive_through_a_topic_the_stack_makes(package):
    template = package["template"]
    [policy] = of_type(template, "AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": "SmsReplyTopic"}]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    # Two-way SMS publishes as AWS End User Messaging, for this account's numbers only.
    assert statement["Principal"] == {"Service": "sms-voice.amazonaws.com"}
    assert statement["Action"] == "sns:Publish" and statement["Resource"] == {"Ref": "SmsReplyTopic"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    topics = of_type(template, "AWS::SNS::Topic")
    assert topics["SmsReplyTopic"]["Properties"]["TopicName"] == f"oncall-{STAGE}-sms-replies"
    functions = of_type(template, "AWS::Serverless::Function")
    replies = next(f for f in functions.values() if f["Properties"]["Handler"] == "app.sms_replies")
    assert list(replies["Properties"]["Events"].values()) == [
        {"Type": "SNS", "Properties": {"Topic": {"Ref": "SmsReplyTopic"}}}
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


def functions_by_name(template: dict) -> dict[str, dict]:
    """Each function's properties, by its name in app.py."""
    return {
        f["Properties"]["FunctionName"].removeprefix(f"{PREFIX}-"): f["Properties"]
        for f in of_type(template, "AWS::Serverless::Function").values()
    }


def test_the_api_function_stops_before_api_gateway_gives_up(package):
    functions = functions_by_name(package["template"])
    assert functions[stack.API_FUNCTION]["Timeout"] < 29  # API Gateway's integration timeout
    assert all(f["Timeout"] <= 30 for f in functions.values())


def test_the_sweep_keeps_concurrency_no_flood_of_requests_can_take(package):
    functions = functions_by_name(package["template"])
    assert functions[stack.SWEEP_FUNCTION]["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReservesSweepConcurrency", {"Ref": "SweepReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert [name for name, f in functions.items() if "ReservedConcurrentExecutions" in f] == [stack.SWEEP_FUNCTION]
    assert package["template"]["Parameters"]["SweepReservedConcurrency"]["Default"] >= 1


def test_every_event_a_function_gives_up_on_lands_in_the_failure_queue(package):
    template = package["template"]
    queue = {"Fn::GetAtt": ["FailureQueue", "Arn"]}
    assert of_type(template, "AWS::SQS::Queue")["FailureQueue"]["Properties"]["QueueName"] == f"{PREFIX}-failures"
    for name, function in functions_by_name(template).items():
        [kind] = {event["Type"] for event in function.get("Events", {}).values()} or {None}
        if name == stack.API_FUNCTION:
            assert "EventInvokeConfig" not in function
        elif kind == "DynamoDB":
            [event] = function["Events"].values()
            source = event["Properties"]
            assert source["BisectBatchOnFunctionError"] is True
            assert 0 < source["MaximumRetryAttempts"] <= 10
            assert 60 <= source["MaximumRecordAgeInSeconds"] <= 3600
            assert source["DestinationConfig"] == {"OnFailure": {"Type": "SQS", "Destination": queue}}
        else:
            invoke = function["EventInvokeConfig"]
            assert invoke["DestinationConfig"] == {"OnFailure": {"Type": "SQS", "Destination": queue}}
            # A timer's next run is its retry; a message is retried, then kept.
            assert invoke["MaximumRetryAttempts"] == (0 if kind == "Schedule" else 2), name
            assert invoke["MaximumEventAgeInSeconds"] <= 3600


def test_each_function_logs_to_a_group_with_a_retention_made_before_it(package):
    template = package["template"]
    groups = of_type(template, "AWS::Logs::LogGroup")
    for function in of_type(template, "AWS::Serverless::Function").values():
        name = function["Properties"]["FunctionName"]
        [group_id] = function["DependsOn"]
        assert groups[group_id]["Properties"] == {
            "LogGroupName": f"/aws/lambda/{name}",
            "RetentionInDays": {"Ref": "LogRetentionDays"},
        }
    assert template["Parameters"]["LogRetentionDays"]["Default"] == 30
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())


def _alarm_on(template: dict, namespace: str, metric: str, **dimensions) -> dict:
    found = [
        alarm["Properties"]
        for alarm in of_type(template, "AWS::CloudWatch::Alarm").values()
        if (alarm["Properties"]["Namespace"], alarm["Properties"]["MetricName"]) == (namespace, metric)
        and all({"Name": k, "Value": v} in alarm["Properties"]["Dimensions"] for k, v in dimensions.items())
    ]
    assert len(found) == 1, (metric, dimensions, len(found))
    return found[0]


def test_alarms_watch_the_heartbeats_lag_failures_and_every_function(package):
    template = package["template"]
    ours = {telemetry.DIMENSION: f"oncall-{STAGE}"}
    for heartbeat in (telemetry.SWEEP_RUNS, telemetry.NOTIFIER_RUNS):
        alarm = _alarm_on(template, telemetry.NAMESPACE, heartbeat, **ours)
        # Three silent minutes page: a stopped timer writes no metric at all.
        assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 60, 3)
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
        assert alarm["TreatMissingData"] == "breaching"
    lag = _alarm_on(template, telemetry.NAMESPACE, telemetry.SWEEP_LAG, **ours)
    assert (lag["Statistic"], lag["ComparisonOperator"], lag["Threshold"]) == ("Maximum", "GreaterThanThreshold", 120)
    for failed in (telemetry.PAGES_FAILED, telemetry.CHANNEL_MESSAGES_FAILED):
        alarm = _alarm_on(template, telemetry.NAMESPACE, failed, **ours)
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    queue = _alarm_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert queue["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["FailureQueue", "QueueName"]}}]
    for logical_id in of_type(template, "AWS::Serverless::Function"):
        for metric in ("Errors", "Throttles"):
            _alarm_on(template, "AWS/Lambda", metric, FunctionName={"Ref": logical_id})
    for alarm in of_type(template, "AWS::CloudWatch::Alarm").values():
        # Straight to the operations topic, never through the oncall API or its alarm topic.
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "OperationsTopic"}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": "OperationsTopic"}]


def test_the_operations_topic_mails_whoever_the_parameter_names(package):
    template = package["template"]
    topic = of_type(template, "AWS::SNS::Topic")["OperationsTopic"]["Properties"]
    assert topic["TopicName"] == f"{PREFIX}-operations"
    [subscription] = of_type(template, "AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "OperationsTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    assert template["Outputs"]["OperationsTopicArn"]["Value"] == {"Ref": "OperationsTopic"}


def test_the_dashboard_shows_the_figures_the_alarms_watch(package):
    template = package["template"]
    [dashboard] = of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(dashboard["Properties"]["DashboardBody"]["Fn::Sub"])
    shown = {metric[1] for widget in body["widgets"] for metric in widget["properties"]["metrics"]}
    assert set(telemetry.COUNTS) | set(telemetry.SECONDS) | {"Errors", "Throttles"} <= shown
    functions = set(of_type(template, "AWS::Serverless::Function"))
    referenced = {
        metric[3].strip("${}")
        for widget in body["widgets"]
        for metric in widget["properties"]["metrics"]
        if metric[0] == "AWS/Lambda"
    }
    assert referenced == functions


def test_the_api_stage_is_throttled_logged_and_traceable(package):
    template = package["template"]
    api = template["Resources"]["RestAPI"]["Properties"]
    assert api["MethodSettings"] == [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "ApiThrottleRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "ApiThrottleBurstLimit"},
        }
    ]
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    logged = json.loads(api["AccessLogSetting"]["Format"]).values()
    assert "$context.requestId" in logged
    # Never the requested path: a calendar feed's URL or a page's link carries its secret there.
    assert "$context.resourcePath" in logged and "$context.path" not in logged
    assert api["TracingEnabled"] == {"Fn::If": ["TracingActive", True, False]}
    assert all(f["Tracing"] == {"Ref": "Tracing"} for f in functions_by_name(template).values())
    assert template["Resources"]["RestAPI"]["DependsOn"] == ["ApiGatewayAccount"]
    # No second stage ("Stage", which SAM adds unless told the OpenAPI version) without all this.
    assert api["OpenApiVersion"] == "2.0"


def test_the_unzipped_package_imports_on_its_own(package, tmp_path):
    """Only what the zip holds: no venv, no site-packages, no PYTHON* variables. boto3 and
    botocore come from the zip, as a pair."""
    with zipfile.ZipFile(package["dir"] / "deployment.zip") as archive:
        archive.extractall(tmp_path)
    probe = (
        "import sys; sys.path[:0] = [sys.argv[1]];"
        "import app, boto3, botocore, pynamodb, pydantic, aws_lambda_powertools;"
        "import json;"
        "print(json.dumps({m.__name__: m.__file__ for m in (app, boto3, botocore, pynamodb, pydantic)}"
        " | {'boto3_version': boto3.__version__, 'botocore_version': botocore.__version__,"
        " 'routes': len(app.app.routes), 'stage': __import__('chalicelib.config').config.settings().stage}))"
    )
    environment = {"ONCALL_STAGE": STAGE, "AWS_DEFAULT_REGION": "us-east-1", "PATH": os.environ["PATH"]}
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(tmp_path)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    for module in ("app", "boto3", "botocore", "pynamodb", "pydantic"):
        assert found[module].startswith(str(tmp_path)), (module, found[module])
    assert found["boto3_version"] == found["botocore_version"]
    assert found["routes"] > 10 and found["stage"] == STAGE
