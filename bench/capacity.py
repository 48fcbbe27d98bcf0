"""What each operation costs in DynamoDB capacity, priced as DynamoDB bills it
(tests/capacity.py), on the in-process emulator.

    .venv/bin/python bench/capacity.py

A typical incident (about 1.2 KB: a 60-character title, 400 bytes of description and
half a kilobyte of details from an integration) goes through trigger, a folded
duplicate, acknowledge and resolve, with 1 and with 100 events of history (99
reassignments before the acknowledgement); an escalation step is priced on its own.
Each row shows the write and read units and the partition each operation wrote
most under.
"""

import os
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    ONCALL_STAGE="bench",
    ONCALL_DEMO="0",
)
os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)

import json  # noqa: E402

from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from tests import dynamo  # noqa: E402, F401  (the lock and DynamoDB's rules)
from tests.capacity import metered  # noqa: E402

JSON = {"Content-Type": "application/json"}
SERVICE = "payments"


def main() -> None:
    with mock_aws():
        import app
        from chalicelib import clock, db, keys
        from chalicelib.models import ALL_MODELS
        from chalicelib.payloads import KeyBody

        db.create_tables(ALL_MODELS)
        fake = clock.ManualClock(clock.now())
        clock.set_source(fake)
        admin = keys.create(KeyBody(name="bench", role="admin", user="admin"), "bench")["token"]
        integration = keys.create(KeyBody(name="monitor", role="integration", services=[SERVICE]), "bench")["token"]
        headers = {**JSON, "Authorization": f"Bearer {admin}"}
        rows = []
        with Client(app.app, stage_name="local") as client:

            def call(method, path, body=None, token_headers=headers):
                response = client.http.request(method, path, headers=token_headers, body=json.dumps(body or {}))
                assert response.status_code < 300, response.body
                return response.json_body

            def priced(name, action):
                # The caller's key is checked before the operation: warm the key lookup out of the figure.
                with metered() as meter:
                    result = action()
                writes = meter.partitions.most_common(1)
                rows.append((name, meter.write_units, meter.read_units, writes[0] if writes else None))
                return result

            call("POST", "/api/escalation/levels/", {"service_name": SERVICE, "level": 1, "user": "bob"})
            for history in (1, 100):
                event = {
                    "routing_key": integration,
                    "event_action": "trigger",
                    "dedup_key": f"checkout-{history}",
                    "payload": {
                        "summary": "Checkout error rate above 5% for 10 minutes on payments-api",
                        "source": "prometheus-prod",
                        "severity": "critical",
                        "component": "payments-api",
                        "custom_details": {
                            "query": "rate(http_errors[5m])" * 12,
                            "value": "7.2%",
                            "runbook": "x" * 200,
                        },
                    },
                }
                enqueue = lambda event=event: call("POST", "/v2/enqueue", event, JSON)  # noqa: E731
                priced(f"new incident (PagerDuty trigger, {history} event)", enqueue)
                incidents = call("GET", f"/api/incidents/list/all/?service_name={SERVICE}&limit=1")["incidents"]
                number = incidents[0]["id"]
                for n in range(history - 1):
                    call("POST", f"/api/incidents/{number}/reassign/", {"user": f"responder-{n}"})
                priced(f"folded duplicate ({history} events)", enqueue)
                priced(
                    f"acknowledge ({history} events)", lambda n=number: call("POST", f"/api/incidents/{n}/acknowledge/")
                )
                priced(f"resolve ({history} events)", lambda n=number: call("POST", f"/api/incidents/{n}/resolve/"))
            number = call("POST", "/api/incidents/trigger/", {"service_name": SERVICE, "title": "disk full"})["id"]
            fake.advance(seconds=301)
            priced("escalation step (sweep)", lambda: call("POST", "/api/incidents/escalate/check/"))
        clock.set_source(None)

    print(f"{'operation':44s} {'write units':>11s} {'read units':>10s}  most written partition")
    for name, write_units, read_units, top in rows:
        where = f"{top[0][0]} {top[0][1]!r}: {top[1]:g}" if top else ""
        print(f"{name:44s} {write_units:11g} {read_units:10g}  {where}")


if __name__ == "__main__":
    main()
