"""In-process DynamoDB requests handed straight to moto's DynamoDB handler.

moto's botocore hook answers a request as its HTTP server would: it builds a
werkzeug request from the botocore one, finds the service by matching URL
patterns, reads the region, account and form fields, parses the parameters, and
only then calls the handler. For a small UpdateItem that was a third of moto's
time (bench/RESULTS.md). A DynamoDB request names its operation in one header
and carries JSON, so this parses the body with moto's own parser for the
operation and calls the same handler method, which answers (and fails) exactly
as it does over HTTP: the rules in dynamodb_rules and plain_answers apply, and
tests/test_dynamodb_direct.py compares the two answers.
"""

from functools import cache, lru_cache

import moto.backend_index as backend_index

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.endpoint import convert_to_response_dict
from botocore.parsers import create_parser
from moto.core.botocore_stubber import MockRawResponse
from moto.core.config import passthrough_service, passthrough_url
from moto.core.parse import PROTOCOL_PARSERS
from moto.core.utils import get_equivalent_url_in_aws_domain, get_service_model, utcnow
from moto.dynamodb.responses import DynamoHandler
from werkzeug.datastructures import Headers
from werkzeug.http import http_date

TARGET_PREFIX = "DynamoDB_20120810."


@cache
def _parser(operation: str):
    """moto's parser of the operation's parameters (KeyError for an unknown operation)."""
    operation_model = get_service_model("dynamodb").operation_model(operation)
    return PROTOCOL_PARSERS["json"](operation_model, map_type=DynamoHandler.PROTOCOL_PARSER_MAP_TYPE)


@lru_cache(maxsize=64)
def _service_at(url: str) -> str | None:
    """The service moto's hook gives a request to this URL (scheme, host and path)."""
    for service, pattern in backend_index.backend_url_patterns:
        if pattern.match(url):
            return service
    return None


def _is_mocked_dynamodb(request) -> bool:
    """Whether moto's hook would answer this request as DynamoDB's, as it decides:
    a request to any other endpoint (another process's emulator) goes on its way."""
    parsed, _ = get_equivalent_url_in_aws_domain(request.url)
    url = f"{parsed.scheme}://{parsed.netloc}{parsed.path}"
    return _service_at(url) == "dynamodb" and not passthrough_url(url) and not passthrough_service("dynamodb")


def _operation(request) -> str | None:
    target = request.headers.get("X-Amz-Target") or b""
    if isinstance(target, bytes):
        target = target.decode("ascii", "replace")
    return target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else None


def _handler(request, operation: str) -> DynamoHandler:
    """A handler set up as moto's dispatch sets one up for a JSON request: the
    attributes its DynamoDB methods and call_action read."""
    handler = DynamoHandler()
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    match = handler.region_regex.search(request.url)
    handler.region = match.group(1) if match else handler.default_region
    handler.headers = Headers(
        [(name, value.decode("latin-1") if isinstance(value, bytes) else value) for name, value in request.headers.items()]
    )
    handler.querystring = {}
    handler.data = handler.querystring
    handler.uri, handler.method, handler.uri_match = request.url, request.method, {}
    handler.raw_body = body
    handler.is_werkzeug_request = False
    handler.response_headers = {"server": "amazon.com", "date": http_date(utcnow())}
    handler.params = _parser(operation).parse({"body": body})
    handler.current_account = handler.get_current_account()
    return handler


def answer(request) -> AWSResponse | None:
    """moto's answer to a botocore DynamoDB request, or None when the request is not
    one (other services, an operation botocore's model does not know) and moto's
    generic dispatch should take it."""
    operation = _operation(request)
    if operation is None or not _is_mocked_dynamodb(request):
        return None
    try:
        _parser(operation)
    except Exception:
        return None
    status, headers, body = _handler(request, operation).call_action()
    return AWSResponse(request.url, status, headers, MockRawResponse(body))


_json_answers = create_parser("json")


def answer_call(params: dict, model) -> tuple[AWSResponse, dict] | None:
    """The answer to a DynamoDB call as botocore's before-call event takes it, before
    the request is signed and sent: the HTTP answer, and the answer parsed as the
    client would parse it (an error's modeled members included, as the endpoint adds
    them). None when `answer` leaves the request to moto's generic dispatch."""
    request = AWSPreparedRequest(params["method"], params["url"], params["headers"], params["body"], False)
    response = answer(request)
    if response is None:
        return None
    response_dict = convert_to_response_dict(response, model)
    parsed = _json_answers.parse(response_dict, model.output_shape)
    if response.status_code >= 300:
        error_shape = model.service_model.shape_for_error_code(parsed.get("Error", {}).get("Code"))
        if error_shape is not None:
            parsed.update(_json_answers.parse(response_dict, error_shape))
    parsed["ResponseMetadata"]["RetryAttempts"] = 0
    return response, parsed
