"""The configuration document (docs/config-as-code.md): reading and checking it, writing
it in its one canonical form, and the difference between two configurations.

Between the document and the API, a configuration is a set of objects per kind, each a
flat dict keyed by its natural key (its `identity` fields): no server ids, no
timestamps the server makes. Objects of a kind are compared on their `compared` fields;
any other field (`replaceable`) says what apply may do, and is never exported."""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import yaml

VERSION = 1
HEADER = (
    "# oncall configuration (python -m oncall_admin export); the shape is docs/config-as-code.md.\n"
    "# No ids, timestamps or secrets. Shifts, overrides and maintenance windows that have\n"
    "# ended are left out unless exported with --include-ended.\n"
)


@dataclass(frozen=True)
class Kind:
    name: str
    identity: tuple[str, ...]
    compared: tuple[str, ...] = ()

    def key(self, item: dict) -> tuple:
        return tuple(item[name] for name in self.identity)


USER = Kind("user", ("name",), ("display_name", "email", "time_zone", "quiet_hours"))
METHOD = Kind("contact method", ("user", "kind", "address"), ("label",))
RULE = Kind("notification rule", ("user", "contact_method", "delay_minutes", "urgency"))
POLICY = Kind("escalation repeat", ("service",), ("repeat",))
LEVEL = Kind("escalation level", ("service", "level"), ("targets", "wait_minutes", "notification_channel"))
ROTATION = Kind(
    "rotation",
    ("service", "name"),
    (
        "layer",
        "participants",
        "shift_length",
        "shift_unit",
        "handoff_time",
        "handoff_weekday",
        "time_zone",
        "start_date",
        "restrictions",
    ),
)
SHIFT = Kind("shift", ("service", "user", "start", "end", "override"))
CHANNEL = Kind("channel", ("service", "name"), ("kind", "url", "topic_arn"))
HEARTBEAT = Kind("heartbeat", ("service", "name"), ("interval_seconds", "grace_seconds"))
WINDOW = Kind("maintenance window", ("service", "start", "end", "reason"))
# In the order writes must go so that what an object refers to exists first.
KINDS = (USER, METHOD, RULE, POLICY, LEVEL, ROTATION, SHIFT, CHANNEL, HEARTBEAT, WINDOW)
SERVICE_KINDS = (POLICY, LEVEL, ROTATION, SHIFT, CHANNEL, HEARTBEAT, WINDOW)

# Kinds whose replacement (delete, then create) loses something the file cannot hold.
LOSES_ON_REPLACE = {
    ("contact method", "webhook"): "its signing secret (the receiver would have to learn the new one)",
    ("contact method", "sms"): "its verification (the number pages nobody until its owner enters a new code)",
    ("channel", "webhook"): "its signing secret (the receiver would have to learn the new one)",
}


def method_name(kind: str, address: str) -> str:
    """How a notification rule names its contact method in the file."""
    return f"{kind}:{address}"


class Configuration:
    """Objects per kind, each keyed by its natural key."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[tuple, dict]] = {kind.name: {} for kind in KINDS}

    def add(self, kind: Kind, item: dict) -> tuple:
        key = kind.key(item)
        self.objects[kind.name][key] = item
        return key

    def of(self, kind: Kind) -> dict[tuple, dict]:
        return self.objects[kind.name]

    def services(self) -> list[str]:
        return sorted({item["service"] for kind in SERVICE_KINDS for item in self.of(kind).values()})


# --- the canonical document -----------------------------------------------------


def iso(moment: datetime) -> str:
    """UTC with milliseconds and Z, as the API writes instants."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _without_none(item: dict) -> dict:
    return {name: value for name, value in item.items() if value is not None and value != []}


def document(config: Configuration) -> dict:
    """The configuration as the file holds it: sorted by service, then natural key;
    empty and default values left out."""
    users = []
    methods_of, rules_of = _grouped(config, METHOD, "user"), _grouped(config, RULE, "user")
    for (name,), user in sorted(config.of(USER).items()):
        methods, rules = methods_of.get(name, []), rules_of.get(name, [])
        users.append(
            _without_none(
                {
                    "name": name,
                    "display_name": user["display_name"],
                    "email": user["email"],
                    "time_zone": user["time_zone"],
                    "quiet_hours": user["quiet_hours"],
                    "contact_methods": [
                        _without_none({"kind": m["kind"], "address": m["address"], "label": m["label"]})
                        for m in methods
                    ],
                    "notification_rules": [
                        {
                            "contact_method": r["contact_method"],
                            "delay_minutes": r["delay_minutes"],
                            "urgency": r["urgency"],
                        }
                        for r in rules
                    ],
                }
            )
        )
    by_service = {kind.name: _grouped(config, kind, "service") for kind in SERVICE_KINDS}
    services = [_service_document(by_service, service) for service in config.services()]
    return _without_none({"version": VERSION, "users": users, "services": services})


def _grouped(config: Configuration, kind: Kind, field_name: str) -> dict[str, list[dict]]:
    """The kind's objects by the value of one field, each group in natural-key order."""
    groups: dict[str, list[dict]] = {}
    for _, item in sorted(config.of(kind).items(), key=lambda pair: pair[0]):
        groups.setdefault(item[field_name], []).append(item)
    return groups


def _unless_default(value, default):
    return None if value == default else value


def _service_document(by_service: dict[str, dict[str, list[dict]]], service: str) -> dict:
    def of(kind: Kind) -> list[dict]:
        return by_service[kind.name].get(service, [])

    policy = next(iter(of(POLICY)), None)
    levels = [
        _without_none(
            {
                "level": level["level"],
                "targets": level["targets"],
                "wait_minutes": level["wait_minutes"],
                "notification_channel": _unless_default(level["notification_channel"], "log"),
            }
        )
        for level in of(LEVEL)
    ]
    escalation = _without_none({"repeat": policy["repeat"] if policy else None, "levels": levels})
    shifts = sorted(of(SHIFT), key=lambda s: (s["start"], s["end"], s["user"]))

    def turns(override: bool) -> list[dict]:
        return [{"user": s["user"], "start": s["start"], "end": s["end"]} for s in shifts if s["override"] == override]

    return _without_none(
        {
            "name": service,
            "escalation": escalation or None,
            "rotations": [
                _without_none({name: rotation[name] for name in ("name", *ROTATION.compared)})
                for rotation in of(ROTATION)
            ],
            "shifts": turns(False),
            "overrides": turns(True),
            "channels": [
                _without_none({name: channel[name] for name in ("name", *CHANNEL.compared)}) for channel in of(CHANNEL)
            ],
            "heartbeats": [{name: beat[name] for name in ("name", *HEARTBEAT.compared)} for beat in of(HEARTBEAT)],
            "maintenance": [{"start": w["start"], "end": w["end"], "reason": w["reason"]} for w in of(WINDOW)],
        }
    )


def dump(config: Configuration) -> str:
    """The canonical YAML text: the same configuration always gives the same bytes."""
    # Mappings and lists of plain values take one line each ({kind: email, address: ...}),
    # the rest are blocks; each top-level key on its own, so the top level is always a block.
    parts = [
        yaml.safe_dump(
            {name: value},
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=None if isinstance(value, list) else False,
            width=1000,
        )
        for name, value in document(config).items()
    ]
    return HEADER + "".join(parts)


# --- reading and checking a file --------------------------------------------------


class FileProblems(Exception):
    """What is wrong with the file, each naming its path in it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Wrong(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")


@dataclass
class _Reader:
    problems: list[str] = field(default_factory=list)

    def each(self, value, path: str, read) -> list:
        """`read(item, item_path)` for each item of a list; a wrong item is noted and skipped."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.append(f"{path}: must be a list, got {_type_name(value)}")
            return []
        results = []
        for index, item in enumerate(value):
            try:
                results.append(read(item, f"{path}[{index}]"))
            except _Wrong as wrong:
                self.problems.append(str(wrong))
        return results


def _type_name(value) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "true/false", int: "a number", float: "a number"}
    return names.get(type(value), "nothing" if value is None else f"a {type(value).__name__}")


def _mapping(value, path: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise _Wrong(path, f"must be a mapping, got {_type_name(value)}")
    allowed = required + optional
    for name in value:
        if name not in allowed:
            raise _Wrong(f"{path}.{name}", f"unknown key (allowed here: {', '.join(allowed)})")
    for name in required:
        if value.get(name) is None:
            raise _Wrong(f"{path}.{name}", "is required")
    return value


def _text(value, path: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Wrong(path, f"must be a non-empty string, got {_type_name(value)}")
    return value


def _choice(value, path: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _Wrong(path, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _whole(value, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Wrong(path, f"must be a whole number from {low} to {high}, got {value!r}")
    return value


def _flag(value, path: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _Wrong(path, f"must be true or false, got {value!r}")
    return value


_WALL_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def _wall_time(value, path: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise _Wrong(path, "must be a quoted time such as '09:00' (YAML reads 09:00 unquoted as a number)")
    if not isinstance(value, str) or not _WALL_TIME.fullmatch(value):
        raise _Wrong(path, f"must be a time of day HH:MM, got {value!r}")
    return value


def _instant(value, path: str) -> str:
    """Any ISO 8601 time with an offset, as the canonical UTC text."""
    moment = value
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise _Wrong(path, f"must be an ISO 8601 time such as 2026-01-31T09:00:00Z, got {value!r}") from None
    if not isinstance(moment, datetime):
        raise _Wrong(path, f"must be an ISO 8601 time such as 2026-01-31T09:00:00Z, got {_type_name(value)}")
    if moment.tzinfo is None:
        raise _Wrong(path, "needs a UTC offset, e.g. 2026-01-31T09:00:00Z")
    return iso(moment)


def _date(value, path: str) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise _Wrong(path, f"must be a date YYYY-MM-DD, got {value!r}")


def _names(value, path: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _Wrong(path, f"must be a non-empty list of names, got {_type_name(value)}")
    return [_text(name, f"{path}[{index}]") for index, name in enumerate(value)]


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CONTACT_KINDS = ("email", "sms", "slack", "webhook")
CHANNEL_KINDS = ("slack", "webhook", "sns")


def load(text: str, source: str = "the file") -> tuple[Configuration, dict[tuple[str, tuple], bool]]:
    """The configuration a file holds, and which of its objects it marks replaceable;
    FileProblems naming each path at fault."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise FileProblems([f"{source}: {where}not valid YAML ({problem})"]) from None
    reader = _Reader()
    config = Configuration()
    replaceable: dict[tuple[str, tuple], bool] = {}
    if raw is None:
        raw = {}
    try:
        top = _mapping(raw, "(top level)", (), ("version", "users", "services"))
        if top.get("version", VERSION) != VERSION:
            raise _Wrong("version", f"must be {VERSION}, got {top['version']!r}")
    except _Wrong as wrong:
        raise FileProblems([f"{source}: {wrong}"]) from None
    places: dict[tuple[str, tuple], str] = {}

    def put(kind: Kind, item: dict, path: str, *, replace_flag: bool = False) -> None:
        key = kind.key(item)
        if (kind.name, key) in places:
            raise _Wrong(path, f"the same {kind.name} as {places[kind.name, key]}")
        places[kind.name, key] = path
        config.add(kind, item)
        if replace_flag:
            replaceable[kind.name, key] = True

    def read_user(value, path):
        user = _mapping(
            value,
            path,
            ("name",),
            ("display_name", "email", "time_zone", "quiet_hours", "contact_methods", "notification_rules"),
        )
        name = _text(user["name"], f"{path}.name")
        hours = None
        if user.get("quiet_hours") is not None:
            given = _mapping(user["quiet_hours"], f"{path}.quiet_hours", ("start", "end"), ())
            hours = {
                "start": _wall_time(given["start"], f"{path}.quiet_hours.start"),
                "end": _wall_time(given["end"], f"{path}.quiet_hours.end"),
            }
        item = {
            "name": name,
            "display_name": _text(user.get("display_name"), f"{path}.display_name", optional=True),
            "email": _text(user.get("email"), f"{path}.email", optional=True),
            "time_zone": _text(user.get("time_zone"), f"{path}.time_zone", optional=True),
            "quiet_hours": hours,
        }
        put(USER, item, path)
        methods = {}

        def read_method(value, at):
            method = _mapping(value, at, ("kind", "address"), ("label", "replaceable"))
            item = {
                "user": name,
                "kind": _choice(method["kind"], f"{at}.kind", CONTACT_KINDS),
                "address": _text(method["address"], f"{at}.address"),
                "label": _text(method.get("label"), f"{at}.label", optional=True),
            }
            put(METHOD, item, at, replace_flag=_flag(method.get("replaceable"), f"{at}.replaceable"))
            methods[method_name(item["kind"], item["address"])] = at

        def read_rule(value, at):
            rule = _mapping(value, at, ("contact_method", "delay_minutes", "urgency"), ())
            named = _text(rule["contact_method"], f"{at}.contact_method")
            if named not in methods:
                known = ", ".join(sorted(methods)) or "none"
                raise _Wrong(
                    f"{at}.contact_method",
                    f"names no contact method of {name} in this file ({known}); write it as kind:address",
                )
            item = {
                "user": name,
                "contact_method": named,
                "delay_minutes": _whole(rule["delay_minutes"], f"{at}.delay_minutes", 0, 60),
                "urgency": _choice(rule["urgency"], f"{at}.urgency", ("high", "low")),
            }
            put(RULE, item, at)

        reader.each(user.get("contact_methods"), f"{path}.contact_methods", read_method)
        reader.each(user.get("notification_rules"), f"{path}.notification_rules", read_rule)

    def read_service(value, path):
        service = _mapping(
            value,
            path,
            ("name",),
            ("escalation", "rotations", "shifts", "overrides", "channels", "heartbeats", "maintenance"),
        )
        name = _text(service["name"], f"{path}.name")
        if (name,) in services_seen:
            raise _Wrong(f"{path}.name", f"service {name} is already described at {services_seen[name,]}")
        services_seen[name,] = path
        if service.get("escalation") is not None:
            escalation = _mapping(service["escalation"], f"{path}.escalation", (), ("repeat", "levels"))
            if escalation.get("repeat") is not None:
                repeat = _whole(escalation["repeat"], f"{path}.escalation.repeat", 0, 9)
                if repeat:
                    put(POLICY, {"service": name, "repeat": repeat}, f"{path}.escalation.repeat")
            reader.each(escalation.get("levels"), f"{path}.escalation.levels", lambda v, at: read_level(name, v, at))
        reader.each(service.get("rotations"), f"{path}.rotations", lambda v, at: read_rotation(name, v, at))
        for section, override in (("shifts", False), ("overrides", True)):
            reader.each(service.get(section), f"{path}.{section}", lambda v, at, o=override: read_shift(name, o, v, at))
        reader.each(service.get("channels"), f"{path}.channels", lambda v, at: read_channel(name, v, at))
        reader.each(service.get("heartbeats"), f"{path}.heartbeats", lambda v, at: read_heartbeat(name, v, at))
        reader.each(service.get("maintenance"), f"{path}.maintenance", lambda v, at: read_window(name, v, at))

    def read_level(service, value, path):
        level = _mapping(value, path, ("level", "wait_minutes"), ("targets", "notification_channel"))
        if level.get("targets") is not None and not isinstance(level["targets"], list):
            raise _Wrong(f"{path}.targets", f"must be a list, got {_type_name(level['targets'])}")
        targets = []
        for index, target in enumerate(level.get("targets") or []):
            at = f"{path}.targets[{index}]"
            target = _mapping(target, at, (), ("user", "oncall"))
            if len(target) != 1:
                raise _Wrong(at, "must name exactly one of user or oncall, e.g. {user: bob}")
            ((which, whom),) = target.items()
            targets.append({which: _text(whom, f"{at}.{which}")})
        item = {
            "service": service,
            "level": _whole(level["level"], f"{path}.level", 1, 100),
            "targets": targets,
            "wait_minutes": _whole(level["wait_minutes"], f"{path}.wait_minutes", 1, 1440),
            "notification_channel": _text(
                "log" if level.get("notification_channel") is None else level["notification_channel"],
                f"{path}.notification_channel",
            ),
        }
        put(LEVEL, item, path)

    def read_rotation(service, value, path):
        rotation = _mapping(
            value,
            path,
            ("name", "participants", "shift_length", "shift_unit", "handoff_time", "time_zone", "start_date"),
            ("layer", "handoff_weekday", "restrictions"),
        )
        restrictions = []
        for index, window in enumerate(rotation.get("restrictions") or []):
            at = f"{path}.restrictions[{index}]"
            window = _mapping(window, at, ("weekdays", "start", "end"), ())
            days = window["weekdays"]
            if not isinstance(days, list) or not days:
                raise _Wrong(f"{at}.weekdays", "must be a non-empty list of weekdays")
            restrictions.append(
                {
                    "weekdays": [_choice(day, f"{at}.weekdays[{n}]", WEEKDAYS) for n, day in enumerate(days)],
                    "start": _wall_time(window["start"], f"{at}.start"),
                    "end": _wall_time(window["end"], f"{at}.end"),
                }
            )
        weekday = rotation.get("handoff_weekday")
        item = {
            "service": service,
            "name": _text(rotation["name"], f"{path}.name"),
            "layer": _whole(rotation.get("layer", 1), f"{path}.layer", 1, 100),
            "participants": _names(rotation["participants"], f"{path}.participants"),
            "shift_length": _whole(rotation["shift_length"], f"{path}.shift_length", 1, 1000),
            "shift_unit": _choice(rotation["shift_unit"], f"{path}.shift_unit", ("hours", "days", "weeks")),
            "handoff_time": _wall_time(rotation["handoff_time"], f"{path}.handoff_time"),
            "handoff_weekday": None if weekday is None else _choice(weekday, f"{path}.handoff_weekday", WEEKDAYS),
            "time_zone": _text(rotation["time_zone"], f"{path}.time_zone"),
            "start_date": _date(rotation["start_date"], f"{path}.start_date"),
            "restrictions": restrictions,
        }
        put(ROTATION, item, path)

    def read_shift(service, override, value, path):
        shift = _mapping(value, path, ("user", "start", "end"), ())
        item = {
            "service": service,
            "user": _text(shift["user"], f"{path}.user"),
            "start": _instant(shift["start"], f"{path}.start"),
            "end": _instant(shift["end"], f"{path}.end"),
            "override": override,
        }
        if item["end"] <= item["start"]:
            raise _Wrong(f"{path}.end", "must be after start")
        put(SHIFT, item, path)

    def read_channel(service, value, path):
        channel = _mapping(value, path, ("name", "kind"), ("url", "topic_arn", "replaceable"))
        item = {
            "service": service,
            "name": _text(channel["name"], f"{path}.name"),
            "kind": _choice(channel["kind"], f"{path}.kind", CHANNEL_KINDS),
            "url": _text(channel.get("url"), f"{path}.url", optional=True),
            "topic_arn": _text(channel.get("topic_arn"), f"{path}.topic_arn", optional=True),
        }
        put(CHANNEL, item, path, replace_flag=_flag(channel.get("replaceable"), f"{path}.replaceable"))

    def read_heartbeat(service, value, path):
        beat = _mapping(value, path, ("name", "interval_seconds", "grace_seconds"), ())
        item = {
            "service": service,
            "name": _text(beat["name"], f"{path}.name"),
            "interval_seconds": _whole(beat["interval_seconds"], f"{path}.interval_seconds", 60, 86400),
            "grace_seconds": _whole(beat["grace_seconds"], f"{path}.grace_seconds", 0, 86400),
        }
        put(HEARTBEAT, item, path)

    def read_window(service, value, path):
        window = _mapping(value, path, ("start", "end", "reason"), ())
        item = {
            "service": service,
            "start": _instant(window["start"], f"{path}.start"),
            "end": _instant(window["end"], f"{path}.end"),
            "reason": _text(window["reason"], f"{path}.reason"),
        }
        if item["end"] <= item["start"]:
            raise _Wrong(f"{path}.end", "must be after start")
        put(WINDOW, item, path)

    services_seen: dict[tuple, str] = {}
    reader.each(top.get("users"), "users", read_user)
    reader.each(top.get("services"), "services", read_service)
    if reader.problems:
        raise FileProblems([f"{source}: {problem}" for problem in reader.problems])
    return config, replaceable


# --- the difference --------------------------------------------------------------


@dataclass
class Change:
    action: str  # "create", "change" or "delete"
    kind: Kind
    key: tuple
    old: dict | None = None
    new: dict | None = None

    @property
    def fields(self) -> list[str]:
        if self.action != "change":
            return []
        return [name for name in self.kind.compared if self.old.get(name) != self.new.get(name)]

    @property
    def item(self) -> dict:
        return self.new if self.new is not None else self.old


def diff(current: Configuration, wanted: Configuration) -> list[Change]:
    """What turns `current` into `wanted`, kind by kind in write order, then by key."""
    changes = []
    for kind in KINDS:
        have, want = current.of(kind), wanted.of(kind)
        for key in sorted(set(have) | set(want), key=_sortable):
            old, new = have.get(key), want.get(key)
            if old is None:
                changes.append(Change("create", kind, key, new=new))
            elif new is None:
                changes.append(Change("delete", kind, key, old=old))
            elif any(old.get(name) != new.get(name) for name in kind.compared):
                changes.append(Change("change", kind, key, old=old, new=new))
    return changes


def _sortable(key: tuple) -> tuple:
    return tuple((str(type(part)), part) for part in key)


def describe(kind: Kind, item: dict) -> str:
    """The object as a person names it, by its natural key."""
    if kind is USER:
        return f"user {item['name']}"
    if kind is METHOD:
        return f"contact method {item['user']} {method_name(item['kind'], item['address'])}"
    if kind is RULE:
        return (
            f"notification rule {item['user']} {item['contact_method']} "
            f"after {item['delay_minutes']} min, {item['urgency']} urgency"
        )
    if kind is POLICY:
        return f"escalation repeat of {item['service']}"
    if kind is LEVEL:
        return f"escalation level {item['service']} {item['level']}"
    if kind is SHIFT:
        noun = "override" if item["override"] else "shift"
        return f"{noun} {item['service']} {item['user']} {item['start']} to {item['end']}"
    if kind is WINDOW:
        return f"maintenance window {item['service']} {item['start']} to {item['end']} ({item['reason']})"
    return f"{kind.name} {item['service']}/{item['name']}"


def _shown(value) -> str:
    if value is None or value == []:
        return "(none)"
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1000).strip()
    return str(value)


def render(change: Change) -> list[str]:
    """The change as lines a person reads: + create, ~ change (each field old -> new), - delete."""
    sign = {"create": "+", "change": "~", "delete": "-"}[change.action]
    lines = [f"{sign} {describe(change.kind, change.item)}"]
    if change.kind is POLICY and change.action != "change":
        before, after = (change.old["repeat"], 0) if change.action == "delete" else (0, change.new["repeat"])
        lines[0] += f" (repeat {before} -> {after})"
    for name in change.fields:
        lines.append(f"    {name}: {_shown(change.old.get(name))} -> {_shown(change.new.get(name))}")
    return lines
