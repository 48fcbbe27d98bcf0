"""JSON text from outside, parsed only once its nesting is known to be bounded.

Python's json module, pydantic and PynamoDB all recurse once per level of nesting:
a body nested a thousand levels deep still parses, then crashes whatever walks it
next (a RecursionError, a 500, an incident number spent). `loads` measures the
depth of the raw text first, without recursion and in linear time, and refuses
anything nested deeper than DynamoDB itself would store (32 levels). Every route
and handler that takes JSON from outside parses it here.
"""

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 32
# How many object keys on the way to the too-deep part an error names
# (payload.custom_details), and how much of each key it shows.
NAMED_KEYS = 2
MAX_SHOWN_KEY = 64

# A JSON string with its escapes; an unterminated one runs to the end of the text.
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"?'
_STRINGS = re.compile(_STRING, re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_TOKENS = re.compile(_STRING + r"|[\[\]{}:]", re.DOTALL)
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class NotJson(ValueError):
    """The text is not JSON (or not text)."""


class TooDeep(NotJson):
    """Arrays and objects nest deeper than MAX_DEPTH. `field` names where by the
    object keys leading there (at most NAMED_KEYS of them, e.g.
    "payload.custom_details"), or is None when the outermost value is an array."""

    def __init__(self, field: str | None) -> None:
        super().__init__(f"nests arrays and objects more than {MAX_DEPTH} levels deep")
        self.field = field


def loads(raw: bytes | str) -> Any:
    """`raw` parsed as json.loads would, once its depth is known to be at most
    MAX_DEPTH. Raises TooDeep, or NotJson for anything else that is not JSON."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode(json.detect_encoding(raw), "surrogatepass")
        except UnicodeDecodeError:
            raise NotJson("not text in a JSON encoding") from None
    if depth(raw) > MAX_DEPTH:
        raise TooDeep(_where_too_deep(raw))
    try:
        return json.loads(raw)
    except ValueError:
        raise NotJson("not valid JSON") from None


def depth(text: str) -> int:
    """How deep arrays and objects nest in `text`, counting brackets outside strings."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _where_too_deep(text: str) -> str | None:
    """The object keys leading to the first array or object opened deeper than
    MAX_DEPTH. Only refused text is walked token by token, and only up to there."""
    keys: list[re.Match | None] = []  # per open array or object: the key being read in it
    last_string = None
    for token in _TOKENS.finditer(text):
        mark = token.group()
        if mark[0] == '"':
            last_string = token
        elif mark == ":":
            if keys:
                keys[-1] = last_string
        elif mark in "[{":
            if len(keys) == MAX_DEPTH:
                break
            keys.append(None)
        elif keys:
            keys.pop()
    named = []
    for key in keys[:NAMED_KEYS]:
        if key is None:
            break
        named.append(_shown(key.group()))
    return ".".join(named) or None


def _shown(quoted: str) -> str:
    try:
        key = json.loads(quoted)
    except ValueError:
        key = quoted.strip('"')
    return key if len(key) <= MAX_SHOWN_KEY else key[: MAX_SHOWN_KEY - 1] + "…"
