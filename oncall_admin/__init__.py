"""Operator commands (see __main__.py): create-key writes a stage's tables directly;
export and apply (configuration as code) speak its HTTP API."""
