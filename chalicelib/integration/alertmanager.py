"""Prometheus Alertmanager's webhook (webhook_config, payload version "4").

One POST carries one alert group. The group is one incident: its dedup key is
sha256(groupKey), as Alertmanager's own PagerDuty and Opsgenie notifiers derive
theirs, so every notification of the group folds into the incident the first one
opened until the group resolves. Rules and the receiver configuration:
docs/integrations/alertmanager.md.
"""

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.api import responses
from chalicelib.api.payloads import MAX_DESCRIPTION_BYTES, MAX_NAME_LENGTH, TriggerBody
from chalicelib.apikey.access import ADMIN, INTEGRATION, Caller
from chalicelib.errors import InvalidInput, InvalidTransition, NotFound
from chalicelib.incident import incidents
from chalicelib.incident.details import ELLIPSIS, clipped, stored_size
from chalicelib.itemsize import truncate_utf8

# An Alertmanager is configured with an integration key; an admin key works too
# (trying the receiver out with curl), but then the group needs a `service` label.
# A responder key is refused: a "resolved" notification closes an incident from
# any open status, which a responder may not do (only what was acknowledged).
ADMITS = frozenset({ADMIN, INTEGRATION})

MAX_TITLE_LENGTH = 1024
MAX_DETAILS_BYTES = 64 * 1024
MAX_RECEIVER_LENGTH = 100
# Details are cut to fit in these steps: none, then strings cut to 4096, 1024 and 256
# characters. The last fallback, {"alertsOmitted": n, "detailsTruncated": true}, fits
# in MIN_DETAILS_LIMIT bytes.
CUTS = (None, 4096, 1024, 256)
MIN_DETAILS_LIMIT = 64

# The `severity` label, lower-cased, to oncall's severities. Anything else (and no
# label at all) is critical: an alert nobody classified should page, not hide.
SEVERITIES = {
    "critical": "critical",
    "crit": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "page": "critical",
    "p1": "critical",
    "error": "error",
    "err": "error",
    "high": "error",
    "major": "error",
    "p2": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "p3": "warning",
    "info": "info",
    "informational": "info",
    "notice": "info",
    "low": "info",
    "none": "info",
    "p4": "info",
    "p5": "info",
}
RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}

Labels = dict[str, str]


# Strict types, as every request body of oncall: a label that is a number, an
# alerts that is an object, a version that is the number 4 are all refused. But
# unknown fields are ignored, unlike oncall's own bodies: Alertmanager adds fields
# to version 4 now and then (truncatedAlerts, fingerprint came that way), and a
# newer Alertmanager must not lose its pages here for a field oncall does not read.
class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", defer_build=True)


class Alert(_Strict):
    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Labels = Field(default_factory=dict)
    starts_at: str = Field(default="", alias="startsAt")
    ends_at: str = Field(default="", alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""


def _example(status: str) -> dict:
    labels = {"alertname": "HighErrorRate", "service": "payments", "severity": "critical"}
    return {
        "version": "4",
        "groupKey": '{}/{service="payments"}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "oncall",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "5xx rate above 5% on payments-api"},
        "externalURL": "http://alertmanager.example.com:9093",
        "alerts": [
            {
                "status": status,
                "labels": {**labels, "instance": "api-1:8080"},
                "annotations": {"description": "7.2% of requests failed in the last 5m"},
                "startsAt": "2026-11-26T08:40:00Z",
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-26T09:05:00Z",
                "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=rate",
                "fingerprint": "1a30ba71cca2921f",
            }
        ],
    }


class AlertmanagerNotification(_Strict):
    """Alertmanager's webhook body, version "4"."""

    model_config = ConfigDict(json_schema_extra={"examples": [_example("firing"), _example("resolved")]})

    version: Literal["4"]
    group_key: str = Field(alias="groupKey", min_length=1, description="dedup key: sha256 of it")
    truncated_alerts: int = Field(default=0, ge=0, alias="truncatedAlerts")
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: Labels = Field(default_factory=dict, alias="groupLabels")
    common_labels: Labels = Field(default_factory=dict, alias="commonLabels")
    common_annotations: Labels = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[Alert] = Field(min_length=1)


def dedup_key(group_key: str) -> str:
    return hashlib.sha256(group_key.encode("utf-8")).hexdigest()


def receive(notification: AlertmanagerNotification, caller: Caller) -> tuple[dict, bool]:
    """Trigger, fold or resolve the group's incident. Returns (outcome, created)."""
    service = service_for(notification, caller)
    key = dedup_key(notification.group_key)

    def outcome(action: str = "nothing", incident: dict | None = None) -> dict:
        return responses.AlertmanagerOutcome(
            status=notification.status,
            action=action,
            service_name=service,
            dedup_key=key,
            incident_id=incident["id"] if incident else None,
            alert_count=incident["alert_count"] if incident else None,
        ).body()

    if notification.status == "resolved":
        incident_id = incidents.incident_for_key(service, key)
        if incident_id is None:
            return outcome(), False  # never opened, or resolved already: nothing to do
        try:
            resolved = incidents.resolve(incident_id, caller.actor, by_source=True)
        except (InvalidTransition, NotFound):
            return outcome(), False  # resolved by someone else between the two steps
        return outcome("resolved", resolved), False

    try:
        body = TriggerBody(
            service_name=service,
            title=title_for(notification),
            description=description_for(notification),
            severity=severity_for(notification),
            dedup_key=key,
        )
    except ValidationError as error:  # the derivations keep within the limits; never expected
        raise InvalidInput(f"The alert group cannot become an incident: {error.errors()[0]['msg']}.") from None
    origin = incidents.Origin(source=source_for(notification), details=details_for(notification))
    incident, created = incidents.trigger(body, caller.actor, origin)
    return outcome("triggered" if created else "folded", incident), created


# --- derivations --------------------------------------------------------------------------------


def service_for(notification: AlertmanagerNotification, caller: Caller) -> str:
    """The `service` label (commonLabels, else groupLabels) when the key may trigger
    it (403 otherwise); without one, the key's service (the first, sorted, of several)."""
    label = notification.common_labels.get("service") or notification.group_labels.get("service")
    if label is not None:
        caller.require_service(label)
        if not label.strip() or len(label) > MAX_NAME_LENGTH:
            raise InvalidInput(
                f"The service label must be 1 to {MAX_NAME_LENGTH} characters, not all blank.",
                field="commonLabels.service",
            )
        return label
    if caller.services:
        return sorted(caller.services)[0]
    raise InvalidInput(
        "This key is bound to no service, so the alert group needs a 'service' label "
        "(in commonLabels or groupLabels); or send it with an integration key.",
        field="commonLabels.service",
    )


def _firing_first(notification: AlertmanagerNotification) -> list[Alert]:
    return sorted(notification.alerts, key=lambda alert: alert.status != "firing")


def _text(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def title_for(notification: AlertmanagerNotification) -> str:
    """summary annotation (common, else the first alert's), else the alertname label."""
    first = _firing_first(notification)[0]
    title = (
        _text(notification.common_annotations.get("summary"))
        or _text(first.annotations.get("summary"))
        or _text(notification.common_labels.get("alertname"))
        or _text(first.labels.get("alertname"))
        or f"Alertmanager alert group {notification.group_key}"
    )
    if len(title) > MAX_TITLE_LENGTH:
        title = title[: MAX_TITLE_LENGTH - 1] + ELLIPSIS
    return title


def description_for(notification: AlertmanagerNotification) -> str:
    """The common description annotation, else each alert's own (distinct, in order)."""
    common = _text(notification.common_annotations.get("description"))
    if common is not None:
        lines = [common]
    else:
        texts = (_text(alert.annotations.get("description")) for alert in _firing_first(notification))
        lines = list(dict.fromkeys(text for text in texts if text is not None))
    if notification.truncated_alerts:
        lines.append(f"({notification.truncated_alerts} more alerts of this group were not sent: max_alerts.)")
    return truncate_utf8("\n".join(lines), MAX_DESCRIPTION_BYTES)


def severity_for(notification: AlertmanagerNotification) -> str:
    """The common `severity` label, else the most severe of the alerts' own, mapped;
    critical when there is none or it is not one oncall knows."""
    common = notification.common_labels.get("severity")
    if common is not None:
        return SEVERITIES.get(common.strip().lower(), "critical")
    found = [
        SEVERITIES.get(alert.labels["severity"].strip().lower(), "critical")
        for alert in notification.alerts
        if "severity" in alert.labels
    ]
    return min(found, key=RANK.__getitem__) if found else "critical"


def source_for(notification: AlertmanagerNotification) -> str:
    receiver = notification.receiver
    if len(receiver) > MAX_RECEIVER_LENGTH:
        receiver = receiver[: MAX_RECEIVER_LENGTH - 1] + ELLIPSIS
    return f"alertmanager: {receiver}" if receiver else "alertmanager"


def _alert_details(alert: Alert) -> dict:
    return {
        "status": alert.status,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": alert.starts_at,
        "endsAt": alert.ends_at,
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint,
    }


def details_for(notification: AlertmanagerNotification, limit: int = MAX_DETAILS_BYTES) -> dict:
    """What Alertmanager sent besides the alert itself, as sent, within `limit` bytes as
    stored (at least MIN_DETAILS_LIMIT): alerts are dropped from the end first (counted
    in alertsOmitted), then long strings are cut, and at worst only the group's
    identity is kept (detailsTruncated)."""
    if limit < MIN_DETAILS_LIMIT:
        raise ValueError(f"details need a limit of at least {MIN_DETAILS_LIMIT} bytes")
    group = {
        "groupKey": notification.group_key,
        "status": notification.status,
        "receiver": notification.receiver,
        "externalURL": notification.external_url,
        "groupLabels": notification.group_labels,
        "commonLabels": notification.common_labels,
        "commonAnnotations": notification.common_annotations,
        "truncatedAlerts": notification.truncated_alerts,
    }
    alerts = [_alert_details(alert) for alert in notification.alerts]
    for cut in CUTS:
        if cut is not None:
            group = clipped(group, cut)
            alerts = [clipped(alert, cut) for alert in alerts]
        # Cut as short as it gets, the group may keep no alert at all.
        details = _with_alerts_that_fit(group, alerts, limit, at_least=0 if cut == CUTS[-1] else 1)
        if details is not None:
            return details
    everything = len(alerts)
    identity = clipped(
        {
            "groupKey": notification.group_key,
            "receiver": notification.receiver,
            "externalURL": notification.external_url,
            "alertsOmitted": everything,
            "detailsTruncated": True,
        },
        CUTS[-1],
    )
    if stored_size(identity) <= limit:
        return identity
    return {"alertsOmitted": everything, "detailsTruncated": True}


def _with_alerts_that_fit(group: dict, alerts: list[dict], limit: int, at_least: int) -> dict | None:
    """`group` with the longest prefix of `alerts` (at least `at_least` of them) that
    fits in `limit` bytes with the count of the others, or None.

    Each alert is measured once, and the size of every candidate is added up rather
    than serialised: in JSON, k items in a list take their own sizes plus k - 1
    separators, and a count takes as many bytes as it has digits."""
    total = len(alerts)
    bare = {**group, "alerts": []}
    without_count = stored_size(bare)
    with_count = stored_size({**bare, "alertsOmitted": 0}) - 1  # plus the count's digits
    separator = stored_size([0, 0]) - 2 * stored_size(0) - stored_size([])

    def size(kept: int, alerts_size: int) -> int:
        omitted = total - kept
        counted = without_count if omitted == 0 else with_count + len(str(omitted))
        return counted + alerts_size + separator * max(kept - 1, 0)

    best = 0 if size(0, 0) <= limit else None
    alerts_size = 0
    for kept, alert in enumerate(alerts, start=1):
        alerts_size += stored_size(alert)
        if without_count + alerts_size + separator * (kept - 1) > limit:
            break  # more alerts only take more room, whatever the count
        if size(kept, alerts_size) <= limit:
            best = kept
    if best is None or best < at_least:
        return None
    details = {**group, "alerts": alerts[:best]}
    if best < total:
        details["alertsOmitted"] = total - best
    return details
