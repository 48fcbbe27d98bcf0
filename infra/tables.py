"""A stage's DynamoDB tables, rendered from the PynamoDB models.

chalicelib/models.py is the only definition of the schema. infra.stack imports
ALL_MODELS with the environment the stage's Lambda functions get (the stage's
`environment_variables` in .chalice/config.json), so the table names are the
ones the deployed code uses, and gets one AWS::DynamoDB::Table per model with
the key schema, attribute definitions and global secondary indexes PynamoDB
itself would send to CreateTable (Model._get_schema()), and the stream a model's
Meta declares (stream_view_type).
"""

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
        raise RenderError("chalicelib is already imported; run in a fresh process (python -m infra.stack).")
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
        # Deleting a table, by hand or by a stack update that would replace it, needs
        # this turned off first.
        "DeletionProtectionEnabled": True,
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


def tables(models) -> tuple[dict, dict]:
    """(resources, outputs): a table per model, its name and any stream as outputs."""
    resources, outputs = {}, {}
    for model in models:
        name = logical_id(model)
        if name in resources:
            raise RenderError(f"two models render to the resource {name}")
        resources[name] = table(model)
        outputs[f"{name}Name"] = {"Description": f"{model.__name__} items", "Value": {"Ref": name}}
        if "StreamSpecification" in resources[name]["Properties"]:
            outputs[f"{name}StreamArn"] = {
                "Description": f"the stream of the {model.__name__} table",
                "Value": {"Fn::GetAtt": [name, "StreamArn"]},
            }
    names = [resource["Properties"]["TableName"] for resource in resources.values()]
    if len(set(names)) != len(names):
        raise RenderError(f"two models share a table name: {sorted(names)}")
    return resources, outputs
