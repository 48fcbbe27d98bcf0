import os
from datetime import datetime, timezone

import pytest

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    ONCALL_STAGE="test",
)
os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)

from moto import mock_aws  # noqa: E402

from tests import dynamo  # noqa: E402

dynamo.install_counter()

from chalicelib import clock, db  # noqa: E402
from chalicelib.models import ALL_MODELS  # noqa: E402

START = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def tables():
    """Fresh, empty tables for every test."""
    # The botocore clients outlive each mock: moto intercepts every client's
    # requests while a mock is active, and building clients anew per test
    # (endpoint and service models parsed again) would dominate the suite's time.
    with mock_aws():
        db.create_tables(ALL_MODELS)
        yield


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
def client():
    from chalice.test import Client

    import app

    with Client(app.app) as test_client:
        yield test_client
