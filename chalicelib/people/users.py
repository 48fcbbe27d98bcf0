"""Users: the people schedules, rotations and escalation levels name, with their time
zone and quiet hours. Deleting one deletes their contact methods and rules with it."""

from chalicelib import clock, db
from chalicelib.api import pagination, responses
from chalicelib.api.payloads import UserBody, UserChange
from chalicelib.db import Transaction, TransactionCancelled
from chalicelib.errors import Conflict, NotFound
from chalicelib.models import ContactMethod, NotificationRule, User

FEED = "user"


def create(body: UserBody, actor: str | None) -> dict:
    hours = body.quiet_hours
    user = User(
        body.name,
        display_name=body.display_name,
        email=body.email,
        time_zone=body.time_zone,
        quiet_start=hours.start if hours else None,
        quiet_end=hours.end if hours else None,
        created_at=clock.now(),
        created_by=actor,
        feed=FEED,
    )
    db.save_new(user, User.name.does_not_exist(), Conflict(f"There is already a user named {body.name}.", field="name"))
    return responses.User.of(user).body()


CAPPED = "user"


def count_one_more(tx: Transaction, name: str, count, cap: int) -> None:
    """Add one to the user's `count` in `tx`, on condition that the user exists and has
    fewer than `cap`: the cap is a condition, and a deleted user takes none."""
    tx.update(User(name), [count.add(1)], condition=User.name.exists() & (count < cap), tag=CAPPED, return_found=True)


def refused(cancelled: TransactionCancelled, name: str, cap: int, things: str) -> Exception:
    """Why count_one_more failed: the user has `cap` `things` already, or no such user."""
    if CAPPED in cancelled.found:
        return Conflict(f"{name} already has {cap} {things}; delete one first.")
    return NotFound(f"There is no user named {name}.", field="name")


def find(name: str) -> User | None:
    return db.find(User, name)


def get(name: str) -> User:
    user = find(name)
    if user is None:
        raise NotFound(f"There is no user named {name}.", field="name")
    return user


def read(name: str) -> dict:
    return responses.User.of(get(name)).body()


def change(name: str, body: UserChange) -> dict:
    """Set what the body names (null clears it); the rest stays."""
    given = body.model_fields_set
    actions = []
    for field in ("display_name", "email", "time_zone"):
        if field in given:
            value = getattr(body, field)
            attribute = getattr(User, field)
            actions.append(attribute.set(value) if value is not None else attribute.remove())
    if "quiet_hours" in given:
        hours = body.quiet_hours
        if hours is None:
            actions += [User.quiet_start.remove(), User.quiet_end.remove()]
        else:
            actions += [User.quiet_start.set(hours.start), User.quiet_end.set(hours.end)]
    if not actions:
        return read(name)
    # Setting values is idempotent: a retry of a lost answer lands the same.
    if not db.settle(lambda: User(name).update(actions=actions, condition=User.name.exists()), lambda: False):
        raise NotFound(f"There is no user named {name}.", field="name")
    return read(name)


def delete(name: str) -> None:
    """The user, their contact methods and their rules, in one transaction conditioned
    on the counts read: a method or rule added meanwhile makes it fail, not linger."""
    user = get(name)
    methods = list(ContactMethod.query(name, consistent_read=True))
    rules = list(NotificationRule.query(name, consistent_read=True))
    tx = Transaction()
    tx.delete(
        User(name),
        condition=(User.method_count == user.method_count) & (User.rule_count == user.rule_count),
        tag="user",
    )
    for method in methods:
        tx.delete(ContactMethod(name, method.id))
    for rule in rules:
        tx.delete(NotificationRule(name, rule.id))
    try:
        tx.commit(landed=lambda: find(name) is None)
    except TransactionCancelled:
        raise db.retry_later(f"{name}'s contact methods changed meanwhile") from None


def list_page(limit: int, cursor: str | None) -> dict:
    users, next_cursor = pagination.feed_page(User, FEED, limit, cursor)
    return responses.UserPage(users=[responses.User.of(user) for user in users], next_cursor=next_cursor).body()
