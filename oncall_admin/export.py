"""Reading a server's configuration through its API: every kind the file covers, as
objects keyed by natural key, with the server id of each (apply needs them to change
and delete). Both export and apply read this way."""

from dataclasses import dataclass, field

from oncall_admin import config
from oncall_admin.client import ApiError, Client, quoted
from oncall_admin.config import (
    CHANNEL,
    HEARTBEAT,
    LEVEL,
    METHOD,
    POLICY,
    ROTATION,
    RULE,
    SHIFT,
    USER,
    WINDOW,
    Configuration,
    Kind,
)

# Kinds a server may not have yet (an older stage): their list answers 404.
OPTIONAL_LISTS = {HEARTBEAT.name: "/api/heartbeats", WINDOW.name: "/api/maintenance"}


@dataclass
class Snapshot:
    config: Configuration = field(default_factory=Configuration)
    # (kind name, natural key) -> the server's id (a user's is their name).
    ids: dict[tuple[str, tuple], str] = field(default_factory=dict)
    # Objects whose natural key an older object of the server already has: (kind, item, id).
    duplicates: list[tuple[Kind, dict, str]] = field(default_factory=list)
    # Kinds this server has no routes for.
    missing: set[str] = field(default_factory=set)

    def keep(self, kind: Kind, item: dict, server_id: str) -> None:
        """Add a server object; a second one with the same natural key is a duplicate."""
        key = kind.key(item)
        if key in self.config.of(kind):
            self.duplicates.append((kind, item, server_id))
            return
        self.config.add(kind, item)
        self.ids[kind.name, key] = server_id

    def id_of(self, kind: Kind, key: tuple) -> str | None:
        return self.ids.get((kind.name, key))


def _oldest_first(items: list[dict]) -> list[dict]:
    return sorted(items, key=lambda item: (item.get("created_at") or "", item.get("id") or ""))


def read(client: Client, *, include_ended: bool = False, services: tuple[str, ...] = ()) -> Snapshot:
    """The server's configuration. `services`: read these services' policies too, even
    when nothing else of theirs exists."""
    snapshot = Snapshot()
    ended = "true" if include_ended else None
    for user in client.list("/api/users", "users"):
        _read_user(client, snapshot, user)
    for shift in _oldest_first(client.list("/api/oncall/schedules", "schedules", include_ended=ended)):
        item = {
            "service": shift["service_name"],
            "user": shift["user"],
            "start": shift["start_time"],
            "end": shift["end_time"],
            "override": shift["is_override"],
        }
        snapshot.keep(SHIFT, item, shift["id"])
    for rotation in _oldest_first(client.list("/api/oncall/rotations", "rotations")):
        item = {"service": rotation["service_name"], **{name: rotation[name] for name in ("name", *ROTATION.compared)}}
        snapshot.keep(ROTATION, item, rotation["id"])
    for level in _oldest_first(client.list("/api/escalation/levels", "levels")):
        item = {"service": level["service_name"], **{name: level[name] for name in ("level", *LEVEL.compared)}}
        snapshot.keep(LEVEL, item, level["id"])
    for channel in _oldest_first(client.list("/api/notifications/channels", "channels")):
        item = {"service": channel["service_name"], **{name: channel[name] for name in ("name", *CHANNEL.compared)}}
        snapshot.keep(CHANNEL, item, channel["id"])
    for beat in _oldest_first(_optional(client, snapshot, HEARTBEAT, "heartbeats")):
        item = {"service": beat["service_name"], **{name: beat[name] for name in ("name", *HEARTBEAT.compared)}}
        snapshot.keep(HEARTBEAT, item, beat["id"])
    for window in _oldest_first(_optional(client, snapshot, WINDOW, "windows", include_ended=ended)):
        item = {"service": window["service_name"], **{name: window[name] for name in ("start", "end", "reason")}}
        snapshot.keep(WINDOW, item, window["id"])
    for service in sorted(set(snapshot.config.services()) | set(services)):
        repeat = client.get(f"/api/escalation/policies/{quoted(service)}")["repeat"]
        if repeat:
            snapshot.keep(POLICY, {"service": service, "repeat": repeat}, service)
    return snapshot


def _read_user(client: Client, snapshot: Snapshot, user: dict) -> None:
    name = user["name"]
    snapshot.keep(USER, {"name": name, **{field: user[field] for field in USER.compared}}, name)
    names = {}
    for method in _oldest_first(client.list(f"/api/users/{quoted(name)}/contact-methods", "contact_methods")):
        item = {"user": name, "kind": method["kind"], "address": method["address"], "label": method["label"]}
        if METHOD.key(item) in snapshot.config.of(METHOD):
            # Its rules go with it when the duplicate is deleted.
            snapshot.duplicates.append((METHOD, item, method["id"]))
            continue
        snapshot.keep(METHOD, item, method["id"])
        names[method["id"]] = config.method_name(method["kind"], method["address"])
    for rule in _oldest_first(client.list(f"/api/users/{quoted(name)}/notification-rules", "notification_rules")):
        item = {
            "user": name,
            "contact_method": names.get(rule["contact_method_id"]),
            "delay_minutes": rule["delay_minutes"],
            "urgency": rule["urgency"],
        }
        if item["contact_method"] is None:
            continue  # a rule of a duplicate method: deleted with it
        snapshot.keep(RULE, item, rule["id"])


def _optional(client: Client, snapshot: Snapshot, kind: Kind, field_name: str, **query) -> list[dict]:
    try:
        return client.list(OPTIONAL_LISTS[kind.name], field_name, **query)
    except ApiError as error:
        if error.status != 404:
            raise
        snapshot.missing.add(kind.name)
        return []
