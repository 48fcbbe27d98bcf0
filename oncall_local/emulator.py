"""The embedded DynamoDB: moto, one request at a time, reached two ways.

- In process: the server's own SDK clients are answered by moto directly
  (`serve_this_process`). A DynamoDB call is handed to moto's DynamoDB handler as
  botocore is about to sign and send it (oncall_local/dynamodb_direct.py); SNS and
  SES requests go through the botocore hook moto installs. No socket, no HTTP
  parsing on either side: a GetItem took 7.75 ms over HTTP and 3.4 ms through
  moto's hook; a duplicate alert's three calls took about 40% less CPU once they
  skipped the hook's HTTP exchange (7.8-9.7 ms to 4.6-6.2 ms, bench/RESULTS.md).
- Over HTTP on loopback: moto's server, for clients outside the process
  (`python -m oncall_admin --stage local`, a second server sharing the tables, tests).

moto is not atomic under concurrency: two conditional writes can both pass, and
a failed TransactWriteItems restores a copy of the table that erases other
clients' writes. Every request, whichever way it came, runs under the one LOCK,
which gives back DynamoDB's semantics (each request sees and leaves a consistent
table); the rules moto counts or ignores differently are in
oncall_local/dynamodb_rules.py.
"""

import os
import threading

from botocore import handlers
from moto.core import botocore_stubber as stubber_module
from moto.core.common_models import BaseModel
from moto.core.models import botocore_stubber
from moto.dynamodb.models.table import StreamShard
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from oncall_local import dynamodb_direct, dynamodb_rules, moto_caches, plain_answers

# Reentrant: a test's fault injector (tests/faults.py) may make a request while serving one.
LOCK = threading.RLock()


def _untracked(cls, *args, **kwargs):
    return super(BaseModel, cls).__new__(cls)


def track_no_model_instances() -> None:
    """moto keeps every object it builds in a list per class, for its dashboard; a
    long-running server would grow without bound and slow down. Clearing the lists
    after every request cost 1.6% of the server's CPU in bench/storm.py; nothing
    here shows moto's dashboard, so nothing is kept at all."""
    BaseModel.__new__ = _untracked


class Serialized:
    """WSGI middleware that lets one request at a time into the wrapped app."""

    def __init__(self, app) -> None:
        self._app = app

    def __call__(self, environ, start_response):
        with LOCK:
            # Drain the body inside the lock: moto reads the whole response lazily.
            return [b"".join(self._app(environ, start_response))]


_unserialized_stub = stubber_module.BotocoreStubber.__call__


def _serialized_stub(stubber, event_name, request, **kwargs):
    with LOCK:
        return _unserialized_stub(stubber, event_name, request, **kwargs)


def whole_path_wanted(operation: str) -> bool:
    """Whether this DynamoDB call must take the SDK's whole path (signed, sent, retried,
    parsed) to moto's generic dispatch. Asked under the lock. Replaced by tests that
    inject faults into requests as they are sent (tests/faults.py): the SDK's retries
    of a faulted call are part of what they test."""
    return False


def _answer_call(params, model, request_signer=None, **kwargs):
    """botocore's last handler of before-call.dynamodb: the answer, without the SDK's
    signing, sending and parsing of an HTTP exchange (dynamodb_direct). Handlers of
    the bare before-call event (botocore's own, for headers moto does not read) are
    not reached once it answers."""
    if not botocore_stubber.enabled:
        return None
    with LOCK:
        # A test's injector counts the call as seen when it lets it through here: only
        # a call that will be answered here may be offered to it.
        routed = dynamodb_direct.route(params)
        if routed is None or whole_path_wanted(model.name):
            return None
        return dynamodb_direct.answer_call(routed, params, model, request_signer)


def keep_no_stream_records() -> None:
    """Tables keep their stream settings, but no records are kept.

    In AWS the incidents table's stream wakes the notification function; locally a
    timer does (oncall_local/server.py) and nothing reads a stream. moto would
    serialize every incident write into a record list that only grows, which cost
    a third of the local throughput in bench/storm.py."""
    StreamShard.add = lambda shard, old, new: None


_prepared = threading.Lock()
_is_prepared = False


def prepare_moto() -> None:
    """Once per process that runs the embedded moto (the server, the tests): DynamoDB's
    rules, item answers written as plain JSON, moto's per-request work cached, no
    stream records or model instances kept, and every request answered in process
    taking the LOCK."""
    global _is_prepared
    with _prepared:
        if _is_prepared:
            return
        dynamodb_rules.install()
        plain_answers.install()
        moto_caches.install()
        keep_no_stream_records()
        track_no_model_instances()
        stubber_module.BotocoreStubber.__call__ = _serialized_stub
        # Last: a test's own handlers of before-call.dynamodb (counting, faults) see the call first.
        handlers.BUILTIN_HANDLERS.append(("before-call.dynamodb", _answer_call, handlers.REGISTER_LAST))
        _is_prepared = True


# The hostnames of the services the app calls, as moto recognises them.
SERVICE_HOSTS = {"DYNAMODB": "dynamodb", "SNS": "sns", "SES": "email"}


def serve_this_process(region: str) -> None:
    """Answer this process's AWS requests (DynamoDB, and SNS and SES for the messages
    the console shows) from the embedded moto, without HTTP. Only for a server that
    runs the embedded emulator: every AWS client in the process is answered by it.

    Each service's endpoint is named outright: moto answers only the AWS hostnames it
    knows, and a global AWS_ENDPOINT_URL, a FIPS or dual-stack endpoint or a profile's
    endpoint_url would otherwise send the app's requests elsewhere."""
    prepare_moto()
    for service, host in SERVICE_HOSTS.items():
        os.environ[f"AWS_ENDPOINT_URL_{service}"] = f"https://{host}.{region}.amazonaws.com"
    os.environ["AWS_USE_FIPS_ENDPOINT"] = "false"
    os.environ["AWS_USE_DUALSTACK_ENDPOINT"] = "false"
    botocore_stubber.enabled = True


class Emulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        prepare_moto()
        app = Serialized(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(host, port, app, threaded=True)
        # A stop is noticed within a tenth of a second (the default poll is half a second).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="dynamodb-emulator", daemon=True
        )

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "Emulator":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
