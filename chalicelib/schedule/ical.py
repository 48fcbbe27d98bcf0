"""The final schedule as iCalendar (RFC 5545), for calendar apps."""

import hashlib
from datetime import datetime

from chalicelib import clock

MEDIA_TYPE = "text/calendar; charset=utf-8"


def _text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and line breaks escaped."""
    escaped = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def _folded(line: str) -> str:
    """Lines longer than 75 octets continue on lines that start with a space,
    split between characters, never inside one."""
    parts, current = [], b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += encoded
    parts.append(current.decode())
    return "\r\n ".join(parts)


def _stamp(iso: str) -> str:
    return clock.parse_iso(iso).strftime("%Y%m%dT%H%M%SZ")


def schedule(service_name: str, intervals: list[dict], now: datetime) -> str:
    """A service's final schedule: an event per interval someone is on call."""
    return calendar(f"On call: {service_name}", [(service_name, interval) for interval in intervals], now)


def calendar(name: str, turns: list[tuple[str, dict]], now: datetime) -> str:
    """A calendar called `name` of (service, final-schedule interval) turns; gaps are left out."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//oncall//final schedule//EN",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:" + _text(name),
    ]
    for service_name, interval in turns:
        if interval["gap"]:
            continue
        user, source = interval["user"], interval["source"] or {}
        origin = " ".join(part for part in (source.get("kind"), source.get("name")) if part)
        uid = hashlib.sha256(f"{service_name}|{interval['start']}|{user}".encode()).hexdigest()[:32]
        summary = _text(f"On call for {service_name}: {user}")
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}@oncall",
            f"DTSTAMP:{now.strftime('%Y%m%dT%H%M%SZ')}",
            f"DTSTART:{_stamp(interval['start'])}",
            f"DTEND:{_stamp(interval['end'])}",
            f"SUMMARY:{summary}",
            f"DESCRIPTION:{_text('From the ' + origin)}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_folded(line) + "\r\n" for line in lines)
