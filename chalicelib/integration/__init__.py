"""Monitoring tools that send alerts: Alertmanager, the PagerDuty Events API,
CloudWatch alarms through SNS (cloudwatch, sns: signature checks; alarm_states,
receipts: ordering and replays)."""
