"""A small demo so a fresh `make run` has something to look at. Goes through
the same domain functions as the API."""

import logging
from datetime import timedelta

from chalicelib import clock
from chalicelib.api.payloads import (
    ContactMethodBody,
    LevelBody,
    NotificationRuleBody,
    RotationBody,
    ShiftBody,
    TriggerBody,
    UserBody,
)
from chalicelib.escalation import policy
from chalicelib.incident import incidents
from chalicelib.people import contact_methods, rules, users
from chalicelib.schedule import oncall, rotations

log = logging.getLogger("oncall.local")


def seed() -> None:
    now = clock.now()
    start = now - timedelta(hours=1)
    shifts = [
        ("payments", "alice", start, now + timedelta(hours=11), False),
        ("payments", "bob", now + timedelta(hours=11), now + timedelta(hours=23), False),
        ("search", "carol", start, now + timedelta(days=7), False),
        ("search", "dave", now, now + timedelta(hours=2), True),
    ]
    for service, user, begins, ends, override in shifts:
        oncall.create_shift(
            ShiftBody(
                service_name=service,
                user=user,
                start_time=clock.iso(begins),
                end_time=clock.iso(ends),
                is_override=override,
            )
        )
    # A weekly rotation for a third service, with a business-hours layer over it.
    monday = (now - timedelta(days=now.weekday() + 7)).date().isoformat()
    rotations.create_rotation(
        RotationBody.model_validate(
            {
                "service_name": "checkout",
                "name": "primary",
                "participants": ["frank", "grace", "heidi"],
                "shift_length": 1,
                "shift_unit": "weeks",
                "handoff_time": "09:00",
                "handoff_weekday": "monday",
                "time_zone": "Europe/Berlin",
                "start_date": monday,
            }
        )
    )
    rotations.create_rotation(
        RotationBody.model_validate(
            {
                "service_name": "checkout",
                "name": "daytime",
                "layer": 2,
                "participants": ["ivan", "judy"],
                "shift_length": 1,
                "shift_unit": "days",
                "handoff_time": "09:00",
                "time_zone": "America/New_York",
                "start_date": monday,
                "restrictions": [
                    {
                        "weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                        "start": "09:00",
                        "end": "17:00",
                    }
                ],
            }
        )
    )
    # People with ways to be paged: the pages land on the console's Sent messages page.
    for name, number in (("alice", "+15555550100"), ("bob", "+15555550101")):
        users.create(UserBody(name=name, email=f"{name}@example.com", time_zone="Europe/Berlin"), "demo")
        texting = contact_methods.create(name, ContactMethodBody(kind="sms", address=number), verified=True)
        mailing = contact_methods.create(name, ContactMethodBody(kind="email", address=f"{name}@example.com"))
        for method, delay in ((texting, 0), (mailing, 5)):
            for urgency in ("high", "low"):
                rule = NotificationRuleBody(contact_method_id=method["id"], delay_minutes=delay, urgency=urgency)
                rules.create(name, rule)
    for level, user in ((1, "bob"), (2, "erin")):
        policy.create_level(LevelBody(service_name="payments", level=level, user=user))
    opened, _ = incidents.trigger(
        TriggerBody(
            service_name="payments",
            title="Checkout error rate above 5%",
            severity="critical",
            description="5xx ratio on /checkout is 7.2% over 5 minutes.",
        ),
        "demo",
    )
    searching, _ = incidents.trigger(
        TriggerBody(service_name="search", title="Index lag over 10 minutes", severity="warning"), "demo"
    )
    incidents.acknowledge(searching["id"], "dave")
    log.info(
        "demo seeded: incidents %s and %s, shifts for payments and search, rotations for checkout",
        opened["id"],
        searching["id"],
    )
