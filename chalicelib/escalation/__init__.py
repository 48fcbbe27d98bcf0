"""Escalation: a service's policy, its levels and repeat count (policy), and the sweep
that climbs them when nobody acknowledges (sweep)."""
