"""Heartbeat monitors: jobs that must check in, and the check that opens an incident
for each one that went quiet."""
