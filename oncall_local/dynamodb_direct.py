"""In-process DynamoDB calls handed straight to moto's DynamoDB handler.

moto's botocore hook answers a request as its HTTP server would: botocore has built,
signed and "sent" an HTTP request, moto builds a werkzeug request from it, finds the
service by matching URL patterns, reads the region, account and form fields, parses
the parameters, calls the handler, and botocore parses the HTTP answer. For the three
calls of a duplicate alert that was 40% of their CPU (bench/RESULTS.md). A DynamoDB
call names its operation in one header and carries JSON, so at botocore's before-call
event (the request built, not yet signed) this parses the body with moto's own parser
for the operation, calls the same handler method under the emulator's lock, and
parses the answer with botocore's parser as the endpoint would, an error's modeled
members (a transaction's cancellation reasons) included.

The answer is moto's: dynamodb_rules and plain_answers apply alike.
tests/test_dynamodb_direct.py answers each call both ways and compares. Where moto's
generic dispatch would do more than answer (IAM checks, its request recorder, a
service allow-list) or could place the request differently (no region in the URL),
the call is left to it. One difference remains, on purpose: moto's dispatch reads a
JSON body as a form too, so a value holding `&Action=DeleteTable` changes the
operation it runs; here, as in DynamoDB, it is only a value.
"""

from functools import cache, lru_cache

import moto.backend_index as backend_index
from botocore.awsrequest import AWSResponse
from botocore.endpoint import convert_to_response_dict
from botocore.parsers import create_parser
from moto import settings
from moto.core.botocore_stubber import MockRawResponse
from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
from moto.core.parse import PROTOCOL_PARSERS
from moto.core.utils import get_equivalent_url_in_aws_domain, get_service_model, utcnow
from moto.dynamodb.responses import DynamoHandler
from moto.moto_api import recorder
from werkzeug.datastructures import Headers
from werkzeug.http import http_date

TARGET_PREFIX = "DynamoDB_20120810."
# What moto's dispatch takes as the access key when a request's has no AWS form.
NO_ACCESS_KEY = "AKIAEXAMPLE"

_json_answers = create_parser("json")


@cache
def _parser(operation: str):
    """moto's parser of the operation's parameters (an error for an unknown operation)."""
    operation_model = get_service_model("dynamodb").operation_model(operation)
    return PROTOCOL_PARSERS["json"](operation_model, map_type=DynamoHandler.PROTOCOL_PARSER_MAP_TYPE)


@lru_cache(maxsize=64)
def _service_at(url: str) -> str | None:
    """The service moto's hook gives a request to this URL (scheme, host and path)."""
    for service, pattern in backend_index.backend_url_patterns:
        if pattern.match(url):
            return service
    return None


def _moto_only_answers(url: str) -> bool:
    """Whether moto's hook would do no more than answer a request to `url` as
    DynamoDB's: a request to any other endpoint (another process's emulator) goes on
    its way, and IAM checks, the recorder or an allow-list need moto's own dispatch."""
    parsed, _ = get_equivalent_url_in_aws_domain(url)
    clean = f"{parsed.scheme}://{parsed.netloc}{parsed.path}"
    return (
        _service_at(clean) == "dynamodb"
        and not passthrough_url(clean)
        and not passthrough_service("dynamodb")
        and service_whitelisted("dynamodb")
        and settings.INITIAL_NO_AUTH_ACTION_COUNT == float("inf")
        and not recorder._user_enabled
    )


class _DirectHandler(DynamoHandler):
    """moto's DynamoDB handler with what its dispatch would read off the request given
    outright: the request is not signed yet, so the access key comes from the client."""

    def __init__(self, access_key: str) -> None:
        super().__init__()
        self._access_key = access_key

    def get_access_key(self) -> str:
        return self._access_key


def _access_key(request_signer) -> str:
    """The access key moto's dispatch would find in the signed request."""
    credentials = getattr(request_signer, "_credentials", None)
    key = credentials.get_frozen_credentials().access_key if credentials is not None else None
    match = key and DynamoHandler.access_key_regex.search(f"AWS4-HMAC-SHA256 Credential={key}/")
    return match.group("access_key") if match else NO_ACCESS_KEY


def _handler(params: dict, operation: str, region: str, access_key: str) -> DynamoHandler:
    """A handler set up as moto's dispatch sets one up for a JSON request: the
    attributes its DynamoDB methods and call_action read."""
    handler = _DirectHandler(access_key)
    body = params["body"] or b""
    if isinstance(body, str):
        body = body.encode()
    handler.region = region
    handler.headers = Headers(
        [
            (name, value.decode("latin-1") if isinstance(value, bytes) else value)
            for name, value in params["headers"].items()
        ]
    )
    handler.querystring = {}
    handler.data = handler.querystring
    handler.uri, handler.method, handler.uri_match = params["url"], params["method"], {}
    handler.raw_body = body
    handler.is_werkzeug_request = False
    handler.response_headers = {"server": "amazon.com", "date": http_date(utcnow())}
    handler.params = _parser(operation).parse({"body": body})
    handler.access_key = access_key
    handler.current_account = handler.get_current_account()
    return handler


def _operation(params: dict) -> str | None:
    target = params["headers"].get("X-Amz-Target") or ""
    if isinstance(target, bytes):
        target = target.decode("ascii", "replace")
    return target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else None


def route(params: dict) -> tuple[str, str] | None:
    """The operation and region of a DynamoDB call as botocore's before-call event
    gives its request dict, when this module can answer it; None leaves the call to
    the SDK's whole path and moto's generic dispatch."""
    operation = _operation(params)
    region = DynamoHandler.region_regex.search(params["url"])
    if operation is None or region is None or not _moto_only_answers(params["url"]):
        return None
    try:
        _parser(operation)
    except Exception:
        return None
    return operation, region.group(1)


def answer_call(routed: tuple[str, str], params: dict, model, request_signer) -> tuple[AWSResponse, dict]:
    """The answer to a call `route` accepted (with its request dict, the operation's
    model and the client's signer): the HTTP answer and the answer parsed as the
    client parses it. Call under the emulator's lock."""
    operation, region = routed
    handler = _handler(params, operation, region, _access_key(request_signer))
    status, headers, body = handler.call_action()
    response = AWSResponse(params["url"], status, headers, MockRawResponse(body))
    response_dict = convert_to_response_dict(response, model)
    parsed = _json_answers.parse(response_dict, model.output_shape)
    if response.status_code >= 300:
        error_shape = model.service_model.shape_for_error_code(parsed.get("Error", {}).get("Code"))
        if error_shape is not None:
            parsed.update(_json_answers.parse(response_dict, error_shape))
    parsed["ResponseMetadata"]["RetryAttempts"] = 0
    return response, parsed
