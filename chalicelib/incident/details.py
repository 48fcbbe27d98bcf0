"""What an incident keeps of what a monitoring tool sent besides the alert itself
(`Incident.details`): its size as stored, and cutting it down to a limit."""

from chalicelib.itemsize import ELLIPSIS
from chalicelib.models import Incident


def stored_size(value) -> int:
    """Bytes of `value` as the incident stores it: the JSON of its details attribute."""
    return len(Incident.details.serialize(value).encode("utf-8"))


def clipped(value, limit: int):
    """Every string (keys included) in `value` cut to `limit` characters, ending in an ellipsis."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + ELLIPSIS
    if isinstance(value, dict):
        return {clipped(key, limit): clipped(item, limit) for key, item in value.items()}
    if isinstance(value, list):
        return [clipped(item, limit) for item in value]
    return value
