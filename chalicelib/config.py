"""Every setting the product reads, in one place, from the environment.

Chalice copies the stage's `environment_variables` from .chalice/config.json
into the environment before app.py is imported, and the local runtime does the
same, so this module is the only reader of os.environ in the domain.
"""

import os
import re
from dataclasses import dataclass
from functools import lru_cache

# An AWS region in the partitions whose SNS hosts are under amazonaws.com(.cn):
# us-east-1, eu-central-2, us-gov-west-1, cn-northwest-1, ... (not s3, not aws-global).
AWS_REGION = r"[a-z]{2}(?:-gov)?-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9][0-9]?"
TOPIC_ARN = re.compile(
    rf"arn:(?P<partition>aws|aws-cn|aws-us-gov):sns:(?P<region>{AWS_REGION}):[0-9]{{12}}:[A-Za-z0-9_-]{{1,256}}(?:\.fifo)?"
)


def topic_region(topic_arn: str) -> str | None:
    """The region of an SNS topic ARN whose partition agrees with it, else None."""
    match = TOPIC_ARN.fullmatch(topic_arn)
    if match is None:
        return None
    region = match["region"]
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if "-gov-" in region else "aws"
    return region if match["partition"] == partition else None


def _int(name: str, default: int, *, minimum: int = 1, maximum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RuntimeError(f"{name} must be a whole number of seconds, got {raw!r}") from None
    if value < minimum:
        raise RuntimeError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise RuntimeError(f"{name} must be at most {maximum}, got {value}")
    return value


def _flag(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise RuntimeError(f"{name} must be 1 or 0, got {raw!r}")


LOCAL_STAGES = ("local", "test")
# A delivery run claims for up to 15 s, and its last attempt must end, one
# deadline later, well inside the Lambda's 30 s and the 60 s lease (chalicelib/notify/delivery.py).
MAX_NOTIFY_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Settings:
    stage: str
    table_prefix: str
    region: str
    dynamodb_endpoint: str | None
    escalate_after_seconds: int
    dedup_window_seconds: int
    sweep_interval_seconds: int
    console_url: str
    key_cache_seconds: int
    admin_key: str | None
    # CloudWatch alarms through SNS (chalicelib/integration/cloudwatch.py, docs/integrations/cloudwatch.md).
    alarm_topic: str = "oncall-local-alarms"
    # Inbound SMS from AWS End User Messaging's two-way SMS (chalicelib/integration/inbound_sms.py).
    sms_reply_topic: str = "oncall-local-sms-replies"
    sns_topic_arns: frozenset[str] = frozenset()
    cloudwatch_services: tuple[tuple[str, str], ...] = ()
    cloudwatch_topic_services: tuple[tuple[str, str], ...] = ()
    cloudwatch_default_service: str = "cloudwatch"
    cloudwatch_severity: str = "critical"
    cloudwatch_insufficient_data: str = "nothing"
    # Outbound notifications (chalicelib/notify/delivery.py, chalicelib/outbound.py).
    notify_timeout_seconds: int = 5
    # Slack and webhook channels may reach loopback, private and link-local
    # addresses: on under `make run`, off unless set anywhere else.
    allow_private_webhooks: bool = False
    notify_retry_seconds: int = 10
    deliver_interval_seconds: int = 2
    # Pages (chalicelib/notify/pages.py): SES's verified sender, and Slack's Web API
    # for direct messages (the bot token, and where the API is, so tests point it
    # at a local fake).
    email_from: str = ""
    # How long before someone's turn on call they are told (chalicelib/notify/shift_notices.py); 0: never.
    shift_notice_minutes: int = 60
    slack_bot_token: str = ""
    slack_api_url: str = "https://slack.com/api"
    # Verifies the button presses Slack sends (docs/integrations/slack.md); without it
    # messages carry no buttons and the interactivity route refuses everything.
    slack_signing_secret: str = ""
    # The incidents table's stream: app.py names it when the module is imported,
    # before any table exists; `make package` puts the real one in the template
    # (infra/stack.py), so only a placeholder is needed here.
    incident_stream_arn: str = ""
    # Connections kept open to DynamoDB per table client. A Lambda serves one
    # request at a time, but the local server runs a thread per request.
    max_pool_connections: int = 64
    # Metrics in CloudWatch's embedded metric format on standard output
    # (chalicelib/telemetry.py): on in deployed stages, off under `make run`.
    metrics: bool = False

    def table_name(self, concept: str) -> str:
        return f"{self.table_prefix}-{concept}"

    @property
    def deployed(self) -> bool:
        """A stage in AWS, as opposed to `make run` and the tests."""
        return self.stage not in LOCAL_STAGES


@lru_cache(maxsize=1)
def settings() -> Settings:
    stage = os.environ.get("ONCALL_STAGE", "local")
    return Settings(
        stage=stage,
        table_prefix=os.environ.get("ONCALL_TABLE_PREFIX", f"oncall-{stage}"),
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        dynamodb_endpoint=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or None,
        escalate_after_seconds=_int("ONCALL_ESCALATE_AFTER_SECONDS", 300),
        dedup_window_seconds=_int("ONCALL_DEDUP_WINDOW_SECONDS", 300),
        sweep_interval_seconds=_int("ONCALL_SWEEP_INTERVAL_SECONDS", 60),
        console_url=os.environ.get("ONCALL_CONSOLE_URL", "").rstrip("/"),
        key_cache_seconds=_int("ONCALL_KEY_CACHE_SECONDS", 0, minimum=0),
        admin_key=os.environ.get("ONCALL_ADMIN_KEY") or None,
        alarm_topic=f"oncall-{stage}-alarms",
        sms_reply_topic=f"oncall-{stage}-sms-replies",
        sns_topic_arns=frozenset(_topics("ONCALL_SNS_TOPIC_ARNS")),
        cloudwatch_services=_prefixes("ONCALL_CLOUDWATCH_SERVICES"),
        cloudwatch_topic_services=_topic_services("ONCALL_CLOUDWATCH_TOPIC_SERVICES"),
        cloudwatch_default_service=os.environ.get("ONCALL_CLOUDWATCH_SERVICE", "").strip() or "cloudwatch",
        cloudwatch_severity=_choice("ONCALL_CLOUDWATCH_SEVERITY", ("critical", "error", "warning", "info")),
        notify_timeout_seconds=_int("ONCALL_NOTIFY_TIMEOUT_SECONDS", 5, minimum=1, maximum=MAX_NOTIFY_TIMEOUT_SECONDS),
        allow_private_webhooks=_flag("ONCALL_ALLOW_PRIVATE_WEBHOOKS"),
        notify_retry_seconds=_int("ONCALL_NOTIFY_RETRY_SECONDS", 10, minimum=1),
        deliver_interval_seconds=_int("ONCALL_DELIVER_INTERVAL_SECONDS", 2, minimum=1),
        incident_stream_arn=os.environ.get("ONCALL_INCIDENT_STREAM_ARN", "").strip()
        or f"arn:aws:dynamodb:us-east-1:000000000000:table/oncall-{stage}-incidents/stream/set-at-packaging",
        cloudwatch_insufficient_data=_choice("ONCALL_CLOUDWATCH_INSUFFICIENT_DATA", ("nothing", "trigger", "resolve")),
        email_from=os.environ.get("ONCALL_EMAIL_FROM", "").strip(),
        shift_notice_minutes=_int("ONCALL_SHIFT_NOTICE_MINUTES", 60, minimum=0, maximum=24 * 60),
        slack_bot_token=os.environ.get("ONCALL_SLACK_BOT_TOKEN", "").strip(),
        slack_api_url=os.environ.get("ONCALL_SLACK_API_URL", "").strip().rstrip("/") or "https://slack.com/api",
        slack_signing_secret=os.environ.get("ONCALL_SLACK_SIGNING_SECRET", "").strip(),
        metrics=_flag("ONCALL_METRICS") if os.environ.get("ONCALL_METRICS", "").strip() else stage not in LOCAL_STAGES,
    )


def _list(name: str) -> list[str]:
    """A comma- or whitespace-separated list."""
    return [item for item in os.environ.get(name, "").replace(",", " ").split() if item]


def _topics(name: str) -> list[str]:
    """A list of SNS topic ARNs, each in a real-looking region of its partition."""
    topics = _list(name)
    for topic in topics:
        if topic_region(topic) is None:
            raise RuntimeError(
                f"{name} must list SNS topic ARNs like arn:aws:sns:us-east-1:123456789012:alarms, got {topic[:300]!r}"
            )
    return topics


def _choice(name: str, allowed: tuple[str, ...]) -> str:
    """One of `allowed`, the first being the default."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return allowed[0]
    if raw not in allowed:
        raise RuntimeError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


def _pairs(name: str, shape: str) -> list[tuple[str, str]]:
    """`key=service,key=service` as (key, service) pairs, in the order given."""
    pairs = []
    for item in os.environ.get(name, "").split(","):
        if not item.strip():
            continue
        key, equals, service = item.strip().partition("=")
        if not equals or not service.strip() or len(service.strip()) > 128:
            raise RuntimeError(f"{name} must be '{shape}=service,...', got {item.strip()!r}")
        pairs.append((key.strip(), service.strip()))
    return pairs


def _prefixes(name: str) -> tuple[tuple[str, str], ...]:
    """`prefix=service,prefix=service` as (prefix, service) pairs, longest prefix first."""
    pairs = _pairs(name, "alarm-name-prefix")
    return tuple(sorted(pairs, key=lambda pair: -len(pair[0])))


def _topic_services(name: str) -> tuple[tuple[str, str], ...]:
    """`topic-arn=service,...`: each topic once, each an SNS topic ARN."""
    pairs = _pairs(name, "topic-arn")
    topics = [topic for topic, _ in pairs]
    for topic in topics:
        if topic_region(topic) is None:
            raise RuntimeError(f"{name} must map SNS topic ARNs to services, got {topic[:300]!r}")
        if topics.count(topic) > 1:
            raise RuntimeError(f"{name} maps {topic} more than once")
    return tuple(pairs)
