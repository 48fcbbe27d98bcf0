"""Applying a configuration file: the plan (what differs from the server, and how each
difference is written through the API), printed, then carried out with --yes.

How each kind is written (docs/config-as-code.md):
- users, escalation repeats and heartbeats change in place (PUT / PATCH), so a heartbeat
  keeps its ping URL;
- rotations and channels are replaced by creating the new one before deleting the old,
  so a refused create leaves the old one as it was;
- an escalation level must be deleted before its number can be made again: if the new
  one is refused, the old one is put back;
- a contact method is replaced new-first, with its rules made again on the new one;
- a webhook channel or contact method, or an SMS number, would lose its secret or its
  verification when replaced: that is a manual step unless the file marks it
  `replaceable: true`.
Creates and changes go in dependency order (users, methods, rules, ...), deletes in
reverse; an object that fails is reported with the API's sentence and the rest go on."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from oncall_admin import config
from oncall_admin.client import ApiError, Client, quoted
from oncall_admin.config import (
    CHANNEL,
    HEARTBEAT,
    KINDS,
    LEVEL,
    LOSES_ON_REPLACE,
    METHOD,
    POLICY,
    ROTATION,
    RULE,
    SHIFT,
    USER,
    WINDOW,
    Change,
    Configuration,
)
from oncall_admin.export import OPTIONAL_LISTS, Snapshot

IN_PLACE = {USER.name, POLICY.name, HEARTBEAT.name}
# What the answer to a create shows only then (a heartbeat's ping URL holds its secret),
# and what it tells its owner.
SHOWN_ONCE = ("ping_url", "secret")
TOLD = ("verification",)


@dataclass
class Step:
    change: Change
    how: str  # "create", "update", "replace", "delete", "manual" or "unsupported"
    note: str = ""
    duplicate_id: str | None = None  # deleting a second server object with the same natural key

    def lines(self) -> list[str]:
        lines = config.render(self.change)
        if self.how == "replace":
            order = "delete, then create" if self.change.kind is LEVEL else "create, then delete"
            lines[0] += f" (replaced: {order})"
        elif self.how in ("manual", "unsupported"):
            lines[0] = "!" + lines[0][1:] + f" -- {self.note}"
        return lines


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # file objects not applied, and why
    kept: int = 0  # server objects absent from the file, kept by --no-delete

    @property
    def writes(self) -> list[Step]:
        return [step for step in self.steps if step.how not in ("manual", "unsupported")]

    def summary(self) -> str:
        counts = {action: 0 for action in ("create", "change", "delete")}
        for step in self.writes:
            counts[step.change.action] += 1
        blocked = len(self.steps) - len(self.writes)
        if not self.writes and not blocked:
            text = "no changes"
        else:
            text = f"{counts['create']} to create, {counts['change']} to change, {counts['delete']} to delete"
            if blocked:
                text += f"; {blocked} cannot be applied as written (marked !)"
        if self.kept:
            text += f"; {self.kept} on the server but not in the file kept (--no-delete)"
        return text


def _ended(kind, item: dict, now: str) -> bool:
    return kind in (SHIFT, WINDOW) and item["end"] <= now


def plan(snapshot: Snapshot, wanted: Configuration, replaceable: dict, *, no_delete=False, now=None) -> Plan:
    """What `wanted` changes on the server; `now` (default the clock) decides what has ended."""
    result = Plan()
    moment = config.iso(now or datetime.now(timezone.utc))
    current = snapshot.config
    target = Configuration()
    for kind in KINDS:
        for key, item in wanted.of(kind).items():
            if kind.name in snapshot.missing:
                change = Change("create", kind, key, new=item)
                route = OPTIONAL_LISTS[kind.name]
                result.steps.append(Step(change, "unsupported", f"this server has no {route} route"))
            elif _ended(kind, item, moment) and key not in current.of(kind):
                result.skipped.append(f"{config.describe(kind, item)}: ended already, not made")
            else:
                target.add(kind, item)
    result.skipped.sort()
    steps = [_step(change, replaceable) for change in config.diff(current, target)]
    for kind, item, server_id in snapshot.duplicates:
        steps.append(Step(Change("delete", kind, kind.key(item), old=item), "delete", duplicate_id=server_id))
    for step in steps:
        if step.change.action == "delete" and no_delete:
            result.kept += 1
        else:
            result.steps.append(step)
    order = {kind.name: index for index, kind in enumerate(KINDS)}
    result.steps.sort(key=lambda step: order[step.change.kind.name])
    return result


def _step(change: Change, replaceable: dict) -> Step:
    kind = change.kind
    if change.action == "delete" or (change.action == "create" and kind is not POLICY):
        return Step(change, change.action)
    # A service's repeat always exists (0 until set): making one is setting it.
    if kind.name in IN_PLACE:
        return Step(change, "update")
    loses = LOSES_ON_REPLACE.get((kind.name, change.old.get("kind")))
    if loses and not replaceable.get((kind.name, change.key)):
        note = (
            f"the API cannot change it in place, and replacing it would lose {loses}; "
            "delete and re-add it yourself, or mark it `replaceable: true` in the file"
        )
        return Step(change, "manual", note)
    return Step(change, "replace")


def print_plan(result: Plan, out, *, steps: bool = True) -> None:
    """The plan; `steps` False leaves the steps out (applying prints each as it goes)."""
    for line in result.skipped:
        print(f"  (skipped) {line}", file=out)
    for step in result.steps if steps else ():
        for line in step.lines():
            print(line, file=out)
    print(f"Plan: {result.summary()}.", file=out)


# --- carrying the plan out ------------------------------------------------------


def _body(kind, item: dict, ids: dict) -> dict:
    """The create request's body for an object."""
    if kind is USER:
        return {name: value for name, value in item.items() if value is not None}
    if kind is METHOD:
        body = {"kind": item["kind"], "address": item["address"]}
        return {**body, "label": item["label"]} if item["label"] is not None else body
    if kind is RULE:
        method_id = ids[METHOD.name, _method_key(item)]
        return {"contact_method_id": method_id, "delay_minutes": item["delay_minutes"], "urgency": item["urgency"]}
    if kind is SHIFT:
        return {
            "service_name": item["service"],
            "user": item["user"],
            "start_time": item["start"],
            "end_time": item["end"],
            "is_override": item["override"],
        }
    body = {("service_name" if name == "service" else name): value for name, value in item.items()}
    if kind is LEVEL and not body["targets"]:
        del body["targets"]
    return {name: value for name, value in body.items() if value is not None}


def _method_key(rule: dict) -> tuple:
    kind, _, address = rule["contact_method"].partition(":")
    return (rule["user"], kind, address)


def _create_path(kind, item: dict) -> str:
    if kind is METHOD:
        return f"/api/users/{quoted(item['user'])}/contact-methods"
    if kind is RULE:
        return f"/api/users/{quoted(item['user'])}/notification-rules"
    return {
        USER.name: "/api/users",
        LEVEL.name: "/api/escalation/levels",
        ROTATION.name: "/api/oncall/rotations",
        SHIFT.name: "/api/oncall/schedules",
        CHANNEL.name: "/api/notifications/channels",
        HEARTBEAT.name: "/api/heartbeats",
        WINDOW.name: "/api/maintenance",
    }[kind.name]


def _object_path(kind, item: dict, server_id: str) -> str:
    if kind is USER:
        return f"/api/users/{quoted(server_id)}"
    if kind is POLICY:
        return f"/api/escalation/policies/{quoted(item['service'])}"
    return f"{_create_path(kind, item)}/{quoted(server_id)}"


class Failed(Exception):
    """An object could not be applied; the message says what state it is in."""


class Applier:
    def __init__(self, client: Client, snapshot: Snapshot, wanted: Configuration, out) -> None:
        self.client = client
        self.snapshot = snapshot
        self.wanted = wanted
        self.out = out
        self.ids = dict(snapshot.ids)
        self.not_made: set[tuple[str, tuple]] = set()
        self.gone: set[tuple[str, str]] = set()  # (kind name, server id) deleted along with another object

    def run(self, result: Plan) -> int:
        """Carry out the plan; the number of objects not applied."""
        failures = 0
        forward = [step for step in result.steps if step.change.action != "delete"]
        deletes = [step for step in result.steps if step.change.action == "delete"]
        deleting = {(step.change.kind.name, step.change.key) for step in deletes if not step.duplicate_id}
        for step in forward + deletes[::-1]:
            first, *details = step.lines()
            if step.how in ("manual", "unsupported"):
                failures += 1
                print(f"NOT APPLIED {first}", *details, sep="\n", file=self.out)
                continue
            try:
                done = self._apply(step, deleting)
            except Failed as failed:
                failures += 1
                if step.how == "create":
                    self.not_made.add((step.change.kind.name, step.change.key))
                print(f"FAILED {first}: {failed}", *details, sep="\n", file=self.out)
                continue
            print(f"done   {first}{done}", *details, sep="\n", file=self.out)
        return failures

    def _apply(self, step: Step, deleting: set) -> str:
        change, kind = step.change, step.change.kind
        blocker = self._missing_dependency(change)
        if blocker:
            raise Failed(f"not tried: {blocker} could not be made")
        if step.how == "create":
            return self._create(kind, change.new)
        if step.how == "update":
            return self._update(change)
        if step.how == "replace":
            return self._replace(change)
        return self._delete(change, step.duplicate_id, deleting)

    def _missing_dependency(self, change: Change) -> str | None:
        item = change.item
        if change.action == "delete":
            return None
        if change.kind in (METHOD, RULE) and (USER.name, (item["user"],)) in self.not_made:
            return f"user {item['user']}"
        if change.kind is RULE and (METHOD.name, _method_key(item)) in self.not_made:
            return f"contact method {item['contact_method']}"
        return None

    def _call(self, doing: str, state: str, method: Callable, *args):
        """`method(*args)`, or Failed saying what was `doing` and the state it leaves."""
        try:
            return method(*args)
        except ApiError as error:
            raise Failed(f"{doing}: {error}{state}") from None

    def _create(self, kind, item: dict, state: str = "; nothing was written") -> str:
        body = _body(kind, item, self.ids)
        made = self._call("refused", state, self.client.post, _create_path(kind, item), body)
        self.ids[kind.name, kind.key(item)] = made.get("id", item.get("name"))
        shown = [f"\n         {name} (shown once): {made[name]}" for name in SHOWN_ONCE if made.get(name)][:1]
        told = [f"\n         {made[name]}" for name in TOLD if made.get(name)]
        return "".join(shown + told)

    def _update(self, change: Change) -> str:
        kind, new = change.kind, change.new
        if kind is USER:
            body = {name: new[name] for name in USER.compared}
            self._call("refused", "", self.client.put, _object_path(USER, new, new["name"]), body)
        elif kind is POLICY:
            self._call("refused", "", self.client.put, _object_path(POLICY, new, ""), {"repeat": new["repeat"]})
        else:
            path = _object_path(kind, new, self.ids[kind.name, change.key])
            body = {name: new[name] for name in kind.compared}
            self._call("refused", "", self.client.patch, path, body)
        return ""

    def _replace(self, change: Change) -> str:
        kind, key = change.kind, change.key
        old_id = self.ids[kind.name, key]
        old_path = _object_path(kind, change.old, old_id)
        if kind is LEVEL:
            # Its number is taken until the old one is gone.
            self._call("deleting the old one was refused", "; it is unchanged", self.client.delete, old_path)
            try:
                return self._create(kind, change.new, state="")
            except Failed as failed:
                restored = _body(kind, change.old, self.ids)
                self._call(
                    f"{failed}; putting the old one back was refused too",
                    f"; {config.describe(kind, change.old)} is missing now",
                    self.client.post,
                    _create_path(kind, change.old),
                    restored,
                )
                raise Failed(f"{failed}; the old one, deleted first, was made again as it was") from None
        shown = self._create(kind, change.new)
        new_id = self.ids[kind.name, key]
        if kind is METHOD:
            self._move_rules(change.new, new_id)
        doing = "the new one was made, but deleting the old one was refused"
        self._call(doing, "; both exist now", self.client.delete, old_path)
        if kind is METHOD:
            self.gone.update(self._rule_ids_of(change.old))
        return shown

    def _rule_ids_of(self, method: dict) -> set[tuple[str, str]]:
        """The server's rules of `method`, which go when it goes."""
        name = config.method_name(method["kind"], method["address"])
        rules = self.snapshot.config.of(RULE)
        return {
            (RULE.name, self.snapshot.ids[RULE.name, key])
            for key in rules
            if key[0] == method["user"] and key[1] == name
        }

    def _move_rules(self, method: dict, new_id: str) -> None:
        """Make the method's unchanged rules again on its replacement (the old method
        takes its own along when deleted; rules still to be made follow in their turn).
        If one is refused, the replacement goes and the old method stays as it was."""
        name = config.method_name(method["kind"], method["address"])
        current = self.snapshot.config.of(RULE)
        for key, rule in sorted(self.wanted.of(RULE).items()):
            if key not in current or rule["user"] != method["user"] or rule["contact_method"] != name:
                continue
            try:
                self._create(RULE, rule, state="")
            except Failed as failed:
                new_path = _object_path(METHOD, method, new_id)
                self._call(f"{failed}; removing the new method was refused", "", self.client.delete, new_path)
                self.ids[METHOD.name, METHOD.key(method)] = self.snapshot.id_of(METHOD, METHOD.key(method))
                raise Failed(
                    f"making its rules on the new one: {failed}; the old method and its rules are kept"
                ) from None

    def _delete(self, change: Change, duplicate_id: str | None, deleting: set) -> str:
        kind, item = change.kind, change.old
        server_id = duplicate_id or self.snapshot.id_of(kind, change.key)
        if kind in (METHOD, RULE) and (USER.name, (item["user"],)) in deleting:
            return " (with the user)"
        if kind is RULE and ((METHOD.name, _method_key(item)) in deleting or (RULE.name, server_id) in self.gone):
            return " (with its contact method)"
        if kind is POLICY:
            self._call("refused", "", self.client.put, _object_path(POLICY, item, ""), {"repeat": 0})
            return ""
        self._call("refused", "; it is unchanged", self.client.delete, _object_path(kind, item, server_id))
        return ""
