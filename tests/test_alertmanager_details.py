"""What an incident keeps of an Alertmanager notification (alertmanager.details_for):
within the limit as stored, every alert that fits kept in order, the omitted ones
counted exactly, strings cut only when no alert fits whole; checked against a
brute-force oracle written here, and in linear work for a 255 KiB body."""

import json
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.integration import alertmanager
from chalicelib.models import Incident
from tests.flows import get_incident
from tests.test_alertmanager import send

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CUTS = (None, 4096, 1024, 256)
GROUP_FIELDS = ("groupKey", "status", "receiver", "externalURL", "groupLabels", "commonLabels", "commonAnnotations")


def stored(value) -> int:
    """Bytes as the incident stores its details: its details attribute's JSON, in UTF-8."""
    return len(Incident.details.serialize(value).encode())


def cut(value, limit):
    if limit is None:
        return value
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + "…"
    if isinstance(value, dict):
        return {cut(key, limit): cut(item, limit) for key, item in value.items()}
    return value


def parts(body: dict, limit) -> tuple[dict, list[dict]]:
    """The group's own fields and its alerts as details_for keeps them, cut at `limit`."""
    group = {name: cut(body[name], limit) for name in GROUP_FIELDS}
    group["truncatedAlerts"] = body["truncatedAlerts"]
    alerts = [
        cut(
            {
                "status": alert["status"],
                "labels": alert["labels"],
                "annotations": alert["annotations"],
                "startsAt": "",
                "endsAt": "",
                "generatorURL": "",
                "fingerprint": "",
            },
            limit,
        )
        for alert in body["alerts"]
    ]
    return group, alerts


def candidate(group: dict, alerts: list[dict], kept: int) -> dict:
    details = {**group, "alerts": alerts[:kept]}
    if kept < len(alerts):
        details["alertsOmitted"] = len(alerts) - kept
    return details


def fits(body: dict, limit: int, at: object, kept: int) -> bool:
    group, alerts = parts(body, at)
    return stored(candidate(group, alerts, kept)) <= limit


def repeated(max_size: int):
    """A string of one character, repeated: long ones are cheap to generate. No lone
    surrogates: JSON on the wire is UTF-8, which cannot carry them (st.text leaves them
    out for the same reason)."""
    return st.builds(lambda char, n: char * n, st.characters(exclude_categories=["Cs"]), st.integers(0, max_size))


def text():
    return st.one_of(st.text(max_size=12), repeated(5000))


labels = st.dictionaries(text(), text(), max_size=4)
alert = st.fixed_dictionaries(
    {"status": st.sampled_from(["firing", "resolved"]), "labels": labels, "annotations": labels}
)
notification = st.fixed_dictionaries(
    {
        "version": st.just("4"),
        "groupKey": st.one_of(st.text(min_size=1, max_size=12), repeated(3000).filter(bool)),
        "status": st.just("firing"),
        "receiver": text(),
        "externalURL": text(),
        "groupLabels": labels,
        "commonLabels": labels,
        "commonAnnotations": labels,
        "truncatedAlerts": st.integers(0, 10**6),
        "alerts": st.lists(alert, min_size=1, max_size=20),
    }
)


@PROPERTY
@given(body=notification, limit=st.integers(alertmanager.MIN_DETAILS_LIMIT, 40_000))
def test_details_fit_keep_a_prefix_count_the_rest_and_cut_only_when_they_must(body, limit):
    details = alertmanager.details_for(alertmanager.AlertmanagerNotification.model_validate(body), limit)
    total = len(body["alerts"])
    assert stored(details) <= limit

    if details.get("detailsTruncated"):
        assert details["alertsOmitted"] == total and "alerts" not in details
        # Not even the group alone, cut as short as it gets, fits.
        assert not fits(body, limit, CUTS[-1], 0)
        return

    kept = len(details["alerts"])
    assert details.get("alertsOmitted", 0) == total - kept
    assert ("alertsOmitted" in details) == (kept < total)
    # The levels whose cut gives these details (several, when cutting changes nothing).
    levels = [at for at in CUTS if details == candidate(*parts(body, at), kept)]
    assert levels
    # No alert at all only when cut as short as it gets; else the first level one fits.
    level = CUTS[-1] if kept == 0 else levels[0]
    assert level in levels
    # The longest prefix that fits at this level...
    assert not any(fits(body, limit, level, more) for more in range(kept + 1, total + 1))
    # ...and no earlier level (longer strings) kept even one alert.
    for earlier in CUTS[: CUTS.index(level)]:
        assert not any(fits(body, limit, earlier, some) for some in range(1, total + 1))


def test_the_count_of_omitted_alerts_is_inside_the_limit():
    """Ten equal alerts and room for five, but not for five and the count: four are
    kept. The count used to be added after the check, went over the limit, and the
    fallback then dropped every alert."""
    body = {
        "version": "4",
        "groupKey": "g",
        "status": "firing",
        "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": {"n": f"{n:02}"}, "annotations": {}} for n in range(10)],
    }
    body.update({name: {} if name.endswith(("Labels", "Annotations")) else "" for name in GROUP_FIELDS[2:]})
    group, alerts = parts(body, None)
    limit = stored({**group, "alerts": alerts[:5]}) + 3
    details = alertmanager.details_for(alertmanager.AlertmanagerNotification.model_validate(body), limit)
    assert stored(details) <= limit
    assert [alert["labels"]["n"] for alert in details["alerts"]] == ["00", "01", "02", "03"]
    assert details["alertsOmitted"] == 6 and "detailsTruncated" not in details


def test_a_limit_below_the_last_fallback_is_refused():
    body = alertmanager.AlertmanagerNotification.model_validate(
        {"version": "4", "groupKey": "g", "status": "firing", "alerts": [{"status": "firing", "labels": {}}]}
    )
    with pytest.raises(ValueError):
        alertmanager.details_for(body, alertmanager.MIN_DETAILS_LIMIT - 1)


@pytest.fixture
def serialised(monkeypatch):
    """How many characters json.dumps produces, in the whole process, while it runs."""
    produced = []
    original = json.dumps

    def counting(*args, **kwargs):
        text = original(*args, **kwargs)
        # The emulator's own (moto's, and its answers in oncall_local) are not the product's.
        if not sys._getframe(1).f_globals.get("__name__", "").startswith(("moto.", "oncall_local.")):
            produced.append(len(text))
        return text

    monkeypatch.setattr(json, "dumps", counting)
    return produced


def test_a_255_kib_body_of_8155_alerts_is_measured_once_not_once_per_dropped_alert(client, keyring, serialised):
    alerts = [{"status": "firing", "labels": {}}] * 8155
    body = {"version": "4", "groupKey": "storm", "status": "firing", "alerts": alerts}
    raw = json.dumps(body, separators=(",", ":")).encode()
    assert 254 * 1024 < len(raw) <= 256 * 1024
    serialised.clear()
    response = send(client, keyring.integration("payments"), None, raw=raw)
    assert response.status_code == 201, response.body
    # Each kept alert measured once, the incident written once, the answers: a few
    # times the 64 KiB kept. Re-measuring the whole list per dropped alert was 7,600
    # serialisations of 64 KiB and more (about 500 MB, 73 s).
    assert sum(serialised) < 6 * alertmanager.MAX_DETAILS_BYTES
    details = get_incident(client, response.json_body["incident_id"])["details"]
    assert stored(details) <= alertmanager.MAX_DETAILS_BYTES
    assert details["alertsOmitted"] == 8155 - len(details["alerts"])
    assert len(details["alerts"]) > 400
