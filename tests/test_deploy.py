"""infra/deploy.sh (`make deploy`, `make destroy`) against a moto server on loopback.

moto cannot run the SAM transform, so the stack deployed here is a small plain
CloudFormation template in the shape of the real one (a function whose code
`aws cloudformation package` uploads, a retained table, parameters); the real
template is checked by tests/test_package.py. What runs is the script itself, with
the AWS CLI of the venv: the artifacts stack, the upload, the deploy with
parameters, and the destroy that keeps the tables and empties the bucket.
moto's change sets leave a stack without outputs, so the outputs are not checked.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest

from infra import policies

ROOT = Path(__file__).resolve().parent.parent
AWS = Path(sys.executable).parent / "aws"  # not resolved: a venv's python is a symlink
SCRIPT = ROOT / "infra" / "deploy.sh"
STAGE = "citest"
REGION = "eu-west-1"

pytestmark = pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed in this venv")

TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {
        "AlarmEmail": {"Type": "String", "Default": ""},
        "EmailFrom": {"Type": "String", "Default": ""},
    },
    "Resources": {
        "HandlerRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": policies.LAMBDA_TRUST,
            },
        },
        "Handler": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Code": "./deployment.zip",
                "Handler": "app.handler",
                "Runtime": "python3.12",
                "Role": {"Fn::GetAtt": ["HandlerRole", "Arn"]},
                "Environment": {"Variables": {"ONCALL_EMAIL_FROM": {"Ref": "EmailFrom"}}},
            },
        },
        "IncidentTable": {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "TableName": f"oncall-{STAGE}-incidents",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            },
        },
    },
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def moto_url():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def package_dir(tmp_path):
    """What `make package` leaves, in miniature."""
    folder = tmp_path / "package"
    folder.mkdir()
    (folder / "sam.json").write_text(json.dumps(TEMPLATE, indent=2))
    with zipfile.ZipFile(folder / "deployment.zip", "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    return folder


def environment(tmp_path: Path, **overrides: str) -> dict:
    """The shell of someone with credentials and a region, every call sent to moto.
    Nothing of the developer's own AWS settings is read, and no credential provider
    reaches for an instance metadata endpoint."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=REGION,
        AWS_CLI=str(AWS),
        ONCALL_PACKAGE_DIR=str(tmp_path / "package"),
    )
    env.update(overrides)
    return {name: value for name, value in env.items() if value is not None}


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def client(service: str, url: str):
    """A client of the moto server (moto's in-process mock lets loopback calls through)."""
    return boto3.client(
        service, endpoint_url=url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def test_a_stage_deploys_with_its_parameters_and_is_destroyed_keeping_its_tables(moto_url, package_dir, tmp_path):
    env = environment(tmp_path, AWS_ENDPOINT_URL=moto_url)
    cloudformation = client("cloudformation", moto_url)
    s3 = client("s3", moto_url)

    done = run(env, "deploy", STAGE, "AlarmEmail=ops@example.com", "EmailFrom=oncall@example.com")
    assert done.returncode == 0, done.stderr
    first_key = f"AWS_REGION={REGION} .venv/bin/python -m oncall_admin create-key --stage {STAGE} --role admin"
    assert first_key in done.stdout
    assert "parameters given: AlarmEmail EmailFrom" in done.stderr

    # The artifacts stack made the bucket, and the code went into it.
    (artifacts,) = cloudformation.describe_stacks(StackName=f"oncall-{STAGE}-artifacts")["Stacks"]
    (bucket,) = [output["OutputValue"] for output in artifacts["Outputs"] if output["OutputKey"] == "BucketName"]
    code = json.loads((package_dir / "packaged.json").read_text())["Resources"]["Handler"]["Properties"]["Code"]
    assert code["S3Bucket"] == bucket
    uploaded = s3.get_object(Bucket=bucket, Key=code["S3Key"])["Body"].read()
    assert uploaded == (package_dir / "deployment.zip").read_bytes()

    # The stack exists with the parameters given, and its function runs the uploaded code.
    (stack,) = cloudformation.describe_stacks(StackName=f"oncall-{STAGE}")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "AlarmEmail": "ops@example.com",
        "EmailFrom": "oncall@example.com",
    }
    (function,) = client("lambda", moto_url).list_functions()["Functions"]
    assert function["CodeSize"] == len(uploaded)
    assert function["Environment"]["Variables"] == {"ONCALL_EMAIL_FROM": "oncall@example.com"}

    done = run({**env, "CONFIRM": f"oncall-{STAGE}"}, "destroy", STAGE)
    assert done.returncode == 0, done.stderr
    assert "KEPT, with their data" in done.stderr and f"  oncall-{STAGE}-incidents\n" in done.stderr
    assert client("dynamodb", moto_url).list_tables()["TableNames"] == [f"oncall-{STAGE}-incidents"]
    summaries = cloudformation.list_stacks()["StackSummaries"]
    assert {summary["StackStatus"] for summary in summaries} == {"DELETE_COMPLETE"}
    assert bucket not in [found["Name"] for found in s3.list_buckets()["Buckets"]]


def test_deploy_stops_with_a_message_without_a_region(tmp_path):
    done = run(environment(tmp_path, AWS_REGION=None, AWS_ENDPOINT_URL="http://127.0.0.1:9"), "upload", STAGE)
    assert done.returncode == 1
    assert "no AWS region: set AWS_REGION" in done.stderr


def test_deploy_stops_with_a_message_without_credentials(tmp_path):
    env = environment(
        tmp_path, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_ENDPOINT_URL="http://127.0.0.1:9"
    )
    done = run(env, "upload", STAGE)
    assert done.returncode == 1
    assert "no usable AWS credentials" in done.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["deploy", "Prod"], "stage 'Prod'"),
        (["deploy", STAGE, "ops@example.com"], "write Key=Value"),
        (["destroy", STAGE, "AlarmEmail=x"], "destroy takes no parameters"),
        # Without a terminal, destroy wants the stack's name.
        (["destroy", STAGE], f"run with CONFIRM=oncall-{STAGE}"),
        (["ship", STAGE], "usage:"),
    ],
)
def test_deploy_refuses_arguments_it_cannot_mean(tmp_path, args, message):
    done = run(environment(tmp_path, AWS_ENDPOINT_URL="http://127.0.0.1:9"), *args)
    assert done.returncode != 0
    assert message in done.stderr
