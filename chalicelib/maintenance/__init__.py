"""Maintenance windows: times when a service's alerts page nobody."""
