"""Operator commands that talk to a stage's tables directly (see __main__.py)."""
