"""What was sent, for the local runtime's "Sent messages" page: `make run` registers a
reader of its emulated SNS and SES (oncall_local/messages.py). In AWS nothing is
registered, and there is nothing to show: the messages left for real phones."""

from collections.abc import Callable

_reader: Callable[[], list[dict]] | None = None


def register(reader: Callable[[], list[dict]]) -> None:
    global _reader
    _reader = reader


def messages() -> list[dict] | None:
    """Every SMS and email sent, newest first; None when not running locally."""
    return None if _reader is None else _reader()
