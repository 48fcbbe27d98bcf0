"""The first admin key: printed once by `make run` when ONCALL_ADMIN_KEY is unset,
and made straight in a stage's table by `python -m oncall_admin create-key`."""

import hashlib
import json
import os
import re
import secrets
import subprocess
import sys

from oncall_local.emulator import Emulator
from tests.e2e.client import expect, get, request
from tests.e2e.conftest import PROJECT


def test_without_oncall_admin_key_the_server_prints_a_new_admin_key_once(start_server):
    local = start_server(ONCALL_ADMIN_KEY="")
    found = re.findall(r"admin API key \(shown once[^)]*\): (\S+)", local.output())
    assert len(found) == 1, local.tail()
    token = found[0]
    me = expect(get(local.url, "/api/me", token=token))
    assert (me["role"], me["user"]) == ("admin", "admin")
    assert local.output().count(token) == 1
    assert hashlib.sha256(token.encode()).hexdigest() not in local.output()


def test_with_oncall_admin_key_the_server_says_it_is_active_without_showing_it(start_server):
    token = secrets.token_hex(20)
    emulator = Emulator().start()
    try:
        for start in ("fresh tables", "tables that hold the key already"):
            local = start_server(AWS_ENDPOINT_URL_DYNAMODB=emulator.endpoint, ONCALL_ADMIN_KEY=token)
            output = local.output()
            lines = [line for line in output.splitlines() if "ONCALL_ADMIN_KEY" in line]
            assert lines == ["the admin key from ONCALL_ADMIN_KEY is active (user admin)"], (start, local.tail())
            assert not any(token[i : i + 6] in output for i in range(len(token) - 5)), start
            me = expect(get(local.url, "/api/me", token=token))
            assert (me["role"], me["user"]) == ("admin", "admin")
            assert local.stop() == 0
    finally:
        emulator.stop()


def test_a_short_oncall_admin_key_is_refused_at_start(tmp_path):
    env = {**os.environ, "ONCALL_ADMIN_KEY": "short", "PORT": "0", "ONCALL_DEMO": "0"}
    env.pop("ONCALL_STAGE", None)
    finished = subprocess.run(
        [sys.executable, "-m", "oncall_local"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )
    assert finished.returncode != 0
    assert "ONCALL_ADMIN_KEY must be 16 to 256" in finished.stderr


def test_oncall_admin_creates_a_key_in_the_stage_table(start_server):
    local = start_server()
    endpoint = local.dynamodb_endpoint()
    assert endpoint, local.tail()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    command = [sys.executable, "-m", "oncall_admin", "create-key", "--stage", "local"]
    made = subprocess.run(
        [*command, "--role", "admin", "--user", "alice", "--name", "alice (admin)"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert (created["role"], created["user"], created["created_by"]) == ("admin", "alice", "oncall_admin")
    me = expect(get(local.url, "/api/me", token=created["token"]))
    assert (me["role"], me["user"]) == ("admin", "alice")

    refused = subprocess.run(
        [*command, "--role", "integration", "--name", "no services"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "services" in refused.stderr
    assert request(local.url, "GET", "/api/me", token="oncall_not-a-key").status == 401
