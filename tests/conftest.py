import copy
import os
from collections import Counter
from datetime import datetime, timezone
from pathlib import PurePosixPath

import pytest
from _pytest.nodeid import NodeId

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    ONCALL_STAGE="test",
    # The receivers of tests/receivers.py listen on loopback; tests of the refusal turn it off.
    ONCALL_ALLOW_PRIVATE_WEBHOOKS="1",
    # The metrics a deployed stage writes (chalicelib/telemetry.py), written here too.
    ONCALL_METRICS="1",
)
os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)

from moto import mock_aws  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.dynamodb.models import dynamodb_backends  # noqa: E402

from tests import dynamo  # noqa: E402
from tests.receivers import Receiver  # noqa: E402

dynamo.install_counter()

from chalicelib import (  # noqa: E402
    clock,
    config,
    db,
    shards,
    signing,  # noqa: E402
)
from chalicelib.api.payloads import KeyBody  # noqa: E402
from chalicelib.apikey import keys  # noqa: E402
from chalicelib.models import ALL_MODELS  # noqa: E402

START = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

# `make test` runs a worker per core (pytest-xdist): each test goes to whichever worker
# is free, except the tests of a module that share a server or a build made once per
# module or session, which stay together on one worker (SameWorkerScheduling). Both
# modules below build the package (`make package`, whose deployment cache Chalice
# writes in the project): one at a time.
SAME_WORKER = {"test_package.py": "package", "test_stack.py": "package", "test_deploy.py": "deploy"}
SERVER_DIRECTORIES = {"e2e", "browser"}


def same_worker_group(nodeid: str) -> str | None:
    path = PurePosixPath(nodeid.partition("::")[0])
    if path.name in SAME_WORKER:
        return SAME_WORKER[path.name]
    if path.parent.name in SERVER_DIRECTORIES:
        return str(path)
    return None


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "load":
        return None  # another --dist asked for on the command line
    from xdist.scheduler import LoadScopeScheduling

    class SameWorkerScheduling(LoadScopeScheduling):
        """xdist's scope scheduling with a test's own id as its scope unless it has a group
        (largest groups first)."""

        def _split_scope(self, nodeid: str) -> str:
            return same_worker_group(nodeid) or nodeid

    return SameWorkerScheduling(config, log)


def pytest_collection_modifyitems(items):
    # Schemathesis names its items by operation but gives them all the test function's
    # id, and xdist schedules by id: without this, one operation of each ran.
    shared = Counter(item.nodeid for item in items)
    for item in items:
        if shared[item.nodeid] > 1:
            item._id = NodeId.parse(f"{item.nodeid.rpartition('::')[0]}::{item.name}")


# The empty tables as the first test's CreateTable requests made them, in moto's own
# objects: each later test starts from a copy (creating every table through the API
# again took about 200 ms a test, most of a short test's time).
_empty_tables: dict | None = None


@pytest.fixture(autouse=True)
def tables():
    """Fresh, empty tables for every test, and every other AWS service emptied."""
    global _empty_tables
    # The botocore clients outlive each mock: moto intercepts every client's
    # requests while a mock is active, and building clients anew per test
    # (endpoint and service models parsed again) would dominate the suite's time.
    with mock_aws():
        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]]
        if _empty_tables is None:
            db.create_tables(ALL_MODELS)
            _empty_tables = copy.deepcopy(backend.tables)
        else:
            backend.tables = copy.deepcopy(_empty_tables)
        signing.forget()
        yield


@pytest.fixture(autouse=True)
def test_settings():
    """Settings as the test environment gives them, again after each test. A test
    that changes the environment clears the cache; left empty, it would be filled
    by the next request, which the test client handles in the stage's environment."""
    yield
    config.settings.cache_clear()
    config.settings()


@pytest.fixture(autouse=True)
def manual_clock():
    fake = clock.ManualClock(START)
    clock.set_source(fake)
    yield fake
    clock.set_source(None)


@pytest.fixture
def requests_made():
    return dynamo.counter


@pytest.fixture
def faults(monkeypatch):
    """DynamoDB faults on demand (tests/faults.py)."""
    from tests.faults import Faults

    injector = Faults()
    monkeypatch.setattr(dynamo, "interceptor", injector)
    # botocore waits up to seconds between its retries; the waits are not under test.
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0)
    # Nor is botocore's retry budget, which a test injecting hundreds of faults into one
    # long-lived client would otherwise drain.
    monkeypatch.setattr("botocore.retries.quota.RetryQuota.acquire", lambda self, amount: True)
    yield injector
    injector.disarm()


class Keyring:
    """API keys made on demand, one per role and user (or services), for this test."""

    def __init__(self) -> None:
        self._tokens: dict[tuple, str] = {}

    def token(self, role: str, user: str | None = None, services: tuple[str, ...] | None = None) -> str:
        wanted = (role, user, services)
        if wanted not in self._tokens:
            fields = {"name": f"{role} {user or ','.join(services or ())}", "role": role, "user": user}
            if services is not None:
                fields["services"] = list(services)
            self._tokens[wanted] = keys.create(KeyBody(**fields), "test")["token"]
        return self._tokens[wanted]

    def admin(self) -> str:
        return self.token("admin", "admin")

    def responder(self, user: str) -> str:
        return self.token("responder", user)

    def integration(self, *services: str) -> str:
        return self.token("integration", None, tuple(services))


class KeyedHTTP:
    """chalice.test's HTTP client, sending `token` unless a request brings its own key."""

    def __init__(self, http, token: str) -> None:
        self._http = http
        self._token = token

    def request(self, method, path, headers=None, body=b""):
        headers = dict(headers or {})
        if not {name.lower() for name in headers} & {"authorization", "x-api-key"}:
            headers["Authorization"] = f"Bearer {self._token}"
        return self._http.request(method, path, headers=headers, body=body)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


class KeyedClient:
    """The test client as an admin; `as_user(name)` is the same client as that responder."""

    def __init__(self, client, keyring: Keyring, token: str) -> None:
        self._client = client
        self.keyring = keyring
        self.http = KeyedHTTP(client.http, token)
        self.events = client.events
        self.lambda_ = client.lambda_

    def as_user(self, user: str) -> "KeyedClient":
        return KeyedClient(self._client, self.keyring, self.keyring.responder(user))

    def with_token(self, token: str) -> "KeyedClient":
        return KeyedClient(self._client, self.keyring, token)

    @property
    def anonymous(self):
        """The HTTP client with no key at all."""
        return self._client.http


@pytest.fixture
def keyring():
    return Keyring()


@pytest.fixture
def client(keyring):
    from chalice.test import Client

    import app

    with Client(app.app, stage_name="local") as test_client:
        yield KeyedClient(test_client, keyring, keyring.admin())


@pytest.fixture
def receivers():
    """Factory: receivers(fail_with=[...]) -> a started Receiver, stopped at teardown."""
    started: list[Receiver] = []

    def make(fail_with=(), before_answer=None, **where) -> Receiver:
        one = Receiver(fail_with, before_answer, **where).start()
        started.append(one)
        return one

    yield make
    for one in started:
        one.stop()


@pytest.fixture
def two_shards(monkeypatch):
    """Two shards instead of sixteen (chalicelib/shards.py), for tests whose long loops of
    sweeps, delivery passes and lists query every shard each time: every shard's path is
    still taken, at an eighth of the queries."""
    monkeypatch.setattr(shards, "SHARDS", 2)


@pytest.fixture
def send_timeout(monkeypatch):
    """send_timeout(seconds): every send's deadline (ONCALL_NOTIFY_TIMEOUT_SECONDS) for this test."""

    def set_to(seconds: int) -> int:
        monkeypatch.setenv("ONCALL_NOTIFY_TIMEOUT_SECONDS", str(seconds))
        config.settings.cache_clear()
        return seconds

    return set_to
