"""What the functions tell the people who run oncall: metrics in CloudWatch's
embedded metric format (one JSON line on standard output per invocation, which
CloudWatch Logs turns into metric data: no API call, no permission, no latency),
and the invocation's request id on every log line.

The sweep and the notifier count each run they finish: that count is the
heartbeat the stack's alarms watch (infra/operations.py), so a timer that stops,
or a function that fails every time, pages the operations topic instead of
nobody. Metric names are declared here once; the alarms and the dashboard read
them from this module."""

import threading

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import logs
from chalicelib.config import settings

NAMESPACE = "oncall"
# The one dimension every figure carries ({"service": "oncall-prod"}), so two stages
# in one account keep apart and an alarm names exactly one stage.
DIMENSION = "service"

# Heartbeats: a finished run of the escalation sweep and of the notifier's minute run.
SWEEP_RUNS = "SweepRuns"
NOTIFIER_RUNS = "NotifierRuns"
# How late the oldest due escalation step was when a sweep found it (0 when none was due).
SWEEP_LAG = "SweepLagSeconds"
ALERTS_RECEIVED = "AlertsReceived"
INCIDENTS_OPENED = "IncidentsOpened"
ALERTS_FOLDED = "AlertsFolded"
PAGES_SENT = "PagesSent"
# A page or channel message given up on: refused for good, or its last retry spent.
PAGES_FAILED = "PagesFailed"
CHANNEL_MESSAGES_SENT = "ChannelMessagesSent"
CHANNEL_MESSAGES_FAILED = "ChannelMessagesFailed"

COUNTS = (
    SWEEP_RUNS,
    NOTIFIER_RUNS,
    ALERTS_RECEIVED,
    INCIDENTS_OPENED,
    ALERTS_FOLDED,
    PAGES_SENT,
    PAGES_FAILED,
    CHANNEL_MESSAGES_SENT,
    CHANNEL_MESSAGES_FAILED,
)
SECONDS = (SWEEP_LAG,)

# The delivery run sends from a thread per recipient; Powertools' metric set is a
# plain dict shared by every Metrics instance.
_lock = threading.Lock()


def service() -> str:
    return f"oncall-{settings().stage}"


def _metrics() -> Metrics:
    return Metrics(namespace=NAMESPACE, service=service())


def count(name: str, value: int = 1) -> None:
    if name not in COUNTS:
        raise ValueError(f"{name} is not a declared count")
    _add(name, MetricUnit.Count, value)


def seconds(name: str, value: float) -> None:
    if name not in SECONDS:
        raise ValueError(f"{name} is not a declared duration")
    _add(name, MetricUnit.Seconds, value)


def _add(name: str, unit: MetricUnit, value: float) -> None:
    if not settings().metrics:
        return
    with _lock:
        _metrics().add_metric(name=name, unit=unit, value=value)


def flush() -> None:
    """Write what this invocation counted, as one EMF line, and start afresh."""
    with _lock:
        metrics = _metrics()
        if metrics.metric_set:
            metrics.flush_metrics()


def invocation(event, get_response):
    """Chalice middleware for every function: the invocation's ids on each log line
    while it runs, and its metrics written when it ends, whatever it ends with."""
    log = logs.product()
    lambda_context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    request_id = getattr(lambda_context, "aws_request_id", None)
    function = getattr(lambda_context, "function_name", None)
    # An HTTP request's context is API Gateway's, whose id the caller's error shows.
    gateway = event.context if isinstance(getattr(event, "context", None), dict) else {}
    log.append_keys(request_id=request_id, function=function, api_request_id=gateway.get("requestId"))
    try:
        return get_response(event)
    finally:
        flush()
        log.remove_keys(["request_id", "function", "api_request_id"])
