"""The incident state machine.

    TRIGGERED --ack--> ACKNOWLEDGED --resolve--> RESOLVED (terminal)
    TRIGGERED --sweep--> ESCALATED --ack (late)--> ACKNOWLEDGED
    ESCALATED --sweep--> ESCALATED (next level)

Each transition is applied by a write conditioned on the statuses it may leave,
so the check and the change are one atomic step in DynamoDB.
"""

TRIGGERED = "TRIGGERED"
ACKNOWLEDGED = "ACKNOWLEDGED"
ESCALATED = "ESCALATED"
RESOLVED = "RESOLVED"

ALL = (TRIGGERED, ACKNOWLEDGED, ESCALATED, RESOLVED)

# An incident that nobody was on call for, in a sentence ("Triggered; unassigned:
# nobody is on call."). The console says the same in the same words.
UNASSIGNED = "unassigned: nobody is on call"
OPEN = (TRIGGERED, ACKNOWLEDGED, ESCALATED)

# The statuses each action may start from.
ACKNOWLEDGE_FROM = (TRIGGERED, ESCALATED)
RESOLVE_FROM = (ACKNOWLEDGED,)
# A monitoring source closing its own alert may do so from any open status.
SOURCE_RESOLVE_FROM = OPEN
ESCALATE_FROM = (TRIGGERED, ESCALATED)
# Who handles it may change while it is open; a resolved incident keeps its last assignee.
REASSIGN_FROM = OPEN

_WHY = {
    ("acknowledge", ACKNOWLEDGED): "it is already acknowledged",
    ("acknowledge", RESOLVED): "it is already resolved",
    ("resolve", TRIGGERED): "acknowledge it first",
    ("resolve", ESCALATED): "acknowledge it first",
    ("resolve", RESOLVED): "it is already resolved",
    ("reassign", RESOLVED): "a resolved incident keeps the assignee it had",
}


def refusal(action: str, incident_id: int, current: str) -> str:
    """The sentence an invalid transition answers with; it names the current status."""
    why = _WHY.get((action, current), "that transition is not allowed")
    return f"Cannot {action} incident {incident_id}: its status is {current}; {why}."


def assignee(user: str | None) -> str:
    """An incident's assignee shown as a value ("Assigned to: ..."): the user, or that nobody is."""
    return user or "unassigned (nobody is on call)"
