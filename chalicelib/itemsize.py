"""Item sizes counted the way DynamoDB documents them ("Item sizes and formats" in
the DynamoDB developer guide), over items in DynamoDB's JSON form ({"S": ...}).

An item's size is the sum, over its attributes, of the attribute name's UTF-8
bytes and the value's size: a string's UTF-8 bytes; a number's one byte per two
significant digits plus one; binary's raw bytes; one byte for null or a Boolean;
a list or map 3 bytes plus, per element, its size and 1 byte (and a map element's
name). A set counts its members. DynamoDB refuses an item over 400 KB."""

import base64

MAX_ITEM_BYTES = 400 * 1024


ELLIPSIS = "…"


def truncate_utf8(text: str, limit: int, marker: str = ELLIPSIS) -> str:
    """`text` within `limit` bytes of UTF-8, cut at a character and ended by `marker`
    when cut."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    room = max(0, limit - len(marker.encode("utf-8")))
    return encoded[:room].decode("utf-8", errors="ignore") + marker


def item_size(item: dict[str, dict]) -> int:
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def value_size(value: dict) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode("utf-8"))
    if kind == "N":
        return number_size(content)
    if kind == "B":
        return len(_raw_bytes(content))
    if kind in ("NULL", "BOOL"):
        return 1
    if kind == "SS":
        return sum(len(member.encode("utf-8")) for member in content)
    if kind == "NS":
        return sum(number_size(member) for member in content)
    if kind == "BS":
        return sum(len(_raw_bytes(member)) for member in content)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + value_size(element) for name, element in content.items())
    raise ValueError(f"not a DynamoDB attribute value type: {kind!r}")


def number_size(text: str) -> int:
    """One byte per two significant digits (leading and trailing zeroes trimmed), plus one."""
    mantissa = text.lstrip("+-").lower().split("e")[0]
    digits = mantissa.replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def _raw_bytes(content) -> bytes:
    # Over the wire binary is base64 text; the emulator may also hold raw bytes.
    return content if isinstance(content, bytes) else base64.b64decode(content)
