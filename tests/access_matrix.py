"""Who may call what: the expected status of every operation for each kind of caller.

tests/test_access.py sends every request in this table and compares the whole
observed matrix with it, and checks that README.md's "## Access control" table is
the one `markdown_table()` renders from it. Print the table to paste with

    .venv/bin/python -m tests.access_matrix
"""

# The callers, in column order. "bad key" is a well-formed token no key has; the
# revoked key was an admin key; the integration key is bound to SERVICE, the
# service every request of the matrix names.
NO_KEY, BAD_KEY, REVOKED_KEY, ADMIN, RESPONDER, INTEGRATION = COLUMNS = (
    "no key",
    "bad key",
    "revoked key",
    "admin",
    "responder",
    "integration",
)
SERVICE = "payments"

PUBLIC = (200, 200, 200, 200, 200, 200)
ANY_KEY = (401, 401, 401, 200, 200, 200)
READ = (401, 401, 401, 200, 200, 403)
ADMIN_ONLY = (401, 401, 401, 200, 403, 403)

# (method, path as declared in chalicelib/routes/) -> status per column, for a valid request.
EXPECTED: dict[tuple[str, str], tuple[int, ...]] = {
    ("GET", "/api/health"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/console/{name}"): PUBLIC,
    ("GET", "/api/openapi.json"): ANY_KEY,
    ("GET", "/api/me"): ANY_KEY,
    ("POST", "/api/incidents/trigger"): (401, 401, 401, 201, 201, 201),
    ("PUT", "/api/incidents/{incident_id}/acknowledge"): READ,
    ("POST", "/api/incidents/{incident_id}/acknowledge"): READ,
    ("PUT", "/api/incidents/{incident_id}/resolve"): READ,
    ("POST", "/api/incidents/{incident_id}/resolve"): READ,
    ("GET", "/api/incidents/{incident_id}"): READ,
    ("GET", "/api/incidents/list/all"): READ,
    ("POST", "/api/incidents/escalate/check"): READ,
    ("POST", "/api/incidents/{incident_id}/notes"): (401, 401, 401, 201, 201, 403),
    ("POST", "/api/incidents/{incident_id}/reassign"): READ,
    ("POST", "/api/incidents/bulk/acknowledge"): READ,
    ("POST", "/api/incidents/bulk/resolve"): READ,
    ("GET", "/api/metrics"): READ,
    ("GET", "/api/metrics/services"): READ,
    ("GET", "/api/reports"): READ,
    ("GET", "/api/oncall/schedules"): READ,
    ("POST", "/api/oncall/schedules"): (401, 401, 401, 201, 403, 403),
    ("DELETE", "/api/oncall/schedules/{schedule_id}"): (401, 401, 401, 204, 403, 403),
    ("GET", "/api/maintenance"): READ,
    ("POST", "/api/maintenance"): (401, 401, 401, 201, 403, 403),
    ("POST", "/api/maintenance/{window_id}/end"): (401, 401, 401, 200, 403, 403),
    ("DELETE", "/api/maintenance/{window_id}"): (401, 401, 401, 204, 403, 403),
    ("GET", "/api/oncall/current"): READ,
    ("GET", "/api/oncall/shifts"): READ,
    ("GET", "/api/oncall/shifts.ics"): READ,
    ("GET", "/api/oncall/rotations"): READ,
    ("POST", "/api/oncall/rotations"): (401, 401, 401, 201, 403, 403),
    ("DELETE", "/api/oncall/rotations/{rotation_id}"): (401, 401, 401, 204, 403, 403),
    ("GET", "/api/escalation/levels"): READ,
    ("POST", "/api/escalation/levels"): (401, 401, 401, 201, 403, 403),
    ("DELETE", "/api/escalation/levels/{level_id}"): (401, 401, 401, 204, 403, 403),
    ("GET", "/api/escalation/policies/{service_name}"): READ,
    ("PUT", "/api/escalation/policies/{service_name}"): ADMIN_ONLY,
    ("GET", "/api/heartbeats"): READ,
    ("POST", "/api/heartbeats"): (401, 401, 401, 201, 403, 403),
    ("POST", "/api/heartbeats/check"): ADMIN_ONLY,
    ("GET", "/api/heartbeats/{heartbeat_id}"): READ,
    ("PATCH", "/api/heartbeats/{heartbeat_id}"): ADMIN_ONLY,
    ("DELETE", "/api/heartbeats/{heartbeat_id}"): (401, 401, 401, 204, 403, 403),
    # A job checks in with a key (an integration key for the heartbeat's service) ...
    ("POST", "/api/heartbeats/{heartbeat_id}/ping"): (401, 401, 401, 200, 403, 200),
    ("GET", "/api/heartbeats/{heartbeat_id}/ping"): (401, 401, 401, 200, 403, 200),
    # ... or public: the secret in the ping URL is the credential (tests/test_heartbeats.py).
    ("POST", "/api/heartbeats/{heartbeat_id}/ping/{secret}"): PUBLIC,
    ("GET", "/api/heartbeats/{heartbeat_id}/ping/{secret}"): PUBLIC,
    ("GET", "/api/keys"): ADMIN_ONLY,
    ("POST", "/api/keys"): (401, 401, 401, 201, 403, 403),
    ("DELETE", "/api/keys/{key_id}"): ADMIN_ONLY,
    ("GET", "/api/notifications/channels"): ADMIN_ONLY,
    ("POST", "/api/notifications/channels"): (401, 401, 401, 201, 403, 403),
    ("DELETE", "/api/notifications/channels/{channel_id}"): (401, 401, 401, 204, 403, 403),
    ("POST", "/api/notifications/deliver"): READ,
    # The responder's key acts as the user these rows name (its own settings: self-service);
    # another user's are 403 to it (tests/test_people.py).
    ("GET", "/api/users"): READ,
    ("POST", "/api/users"): (401, 401, 401, 201, 403, 403),
    ("GET", "/api/users/{name}"): READ,
    ("PUT", "/api/users/{name}"): READ,
    ("DELETE", "/api/users/{name}"): (401, 401, 401, 204, 403, 403),
    ("GET", "/api/users/{name}/contact-methods"): READ,
    ("POST", "/api/users/{name}/contact-methods"): (401, 401, 401, 201, 201, 403),
    ("DELETE", "/api/users/{name}/contact-methods/{method_id}"): (401, 401, 401, 204, 204, 403),
    ("POST", "/api/users/{name}/contact-methods/{method_id}/verify"): READ,
    ("GET", "/api/users/{name}/notification-rules"): READ,
    ("POST", "/api/users/{name}/notification-rules"): (401, 401, 401, 201, 201, 403),
    ("DELETE", "/api/users/{name}/notification-rules/{rule_id}"): (401, 401, 401, 204, 204, 403),
    ("GET", "/api/users/{name}/calendar-feeds"): READ,
    ("POST", "/api/users/{name}/calendar-feeds"): (401, 401, 401, 201, 201, 403),
    ("DELETE", "/api/users/{name}/calendar-feeds/{feed_id}"): (401, 401, 401, 204, 204, 403),
    # Public: the secret token in the path is the credential (tests/test_calendar_feeds.py).
    ("GET", "/calendar/{token}"): PUBLIC,
    # Public: Slack's signature is the credential; with no signing secret set, as here,
    # every press is refused (tests/test_slack.py signs them).
    ("POST", "/api/integrations/slack/interactivity"): (403,) * len(COLUMNS),
    # Public: the signed link is the credential (tests/test_page_links.py).
    ("GET", "/act/{token}"): PUBLIC,
    ("POST", "/act/{token}"): PUBLIC,
    # Only `make run` shows what it sent (tests/e2e); elsewhere the page is a 404 for anyone.
    ("GET", "/api/local/messages"): (401, 401, 401, 404, 403, 403),
    # Public: trusted by the SNS signature and topic allowlist, not a key (tests/test_cloudwatch.py).
    ("POST", "/api/integrations/cloudwatch"): PUBLIC,
    # An Alertmanager sends an integration key; an admin key may try it; a responder may not (it resolves).
    ("POST", "/api/integrations/alertmanager"): (401, 401, 401, 201, 403, 201),
    # Public: the key is the body's routing_key (an integration key), not a header (tests/test_pagerduty.py).
    ("POST", "/v2/enqueue"): (202,) * len(COLUMNS),
}


def markdown_table() -> str:
    """EXPECTED as the Markdown table README.md shows."""
    lines = [
        "| method and path | " + " | ".join(COLUMNS) + " |",
        "| --- | " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    for (method, path), statuses in EXPECTED.items():
        lines.append(f"| `{method} {path}` | " + " | ".join(str(status) for status in statuses) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
