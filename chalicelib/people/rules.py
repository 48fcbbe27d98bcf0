"""Notification rules: page a user through one of their contact methods, a delay after
an incident of the rule's urgency becomes theirs. High urgency is critical and error
incidents, low is warning and info; quiet hours hold back low urgency."""

import uuid

from chalicelib import clock, db
from chalicelib.api import pagination, responses
from chalicelib.api.payloads import NotificationRuleBody
from chalicelib.db import Transaction, TransactionCancelled
from chalicelib.errors import NotFound
from chalicelib.models import ContactMethod, NotificationRule, User
from chalicelib.people import users

# A page makes one delivery per rule, in the hand-over transaction (at most 100 items).
MAX_PER_USER = 20
URGENCY = {"critical": "high", "error": "high", "warning": "low", "info": "low"}


def urgency_of(severity: str) -> str:
    return URGENCY.get(severity, "high")


def create(name: str, body: NotificationRuleBody) -> dict:
    rule = NotificationRule(
        name,
        uuid.uuid4().hex,
        contact_method_id=body.contact_method_id,
        delay_minutes=body.delay_minutes,
        urgency=body.urgency,
        created_at=clock.now(),
    )
    tx = Transaction()
    tx.put(rule, condition=NotificationRule.id.does_not_exist())
    # The method counts its rules, so deleting it takes exactly these along.
    tx.update(
        ContactMethod(name, body.contact_method_id),
        [ContactMethod.rule_count.add(1)],
        condition=ContactMethod.id.exists(),
        tag="method",
    )
    users.count_one_more(tx, name, User.rule_count, MAX_PER_USER)
    try:
        tx.commit(landed=lambda: db.find(NotificationRule, name, rule.id) is not None)
    except TransactionCancelled as cancelled:
        if "method" in cancelled.failed:
            raise NotFound(
                f"{name} has no contact method with id {body.contact_method_id}.", field="contact_method_id"
            ) from None
        raise users.refused(cancelled, name, MAX_PER_USER, "notification rules") from None
    return responses.NotificationRule.of(rule).body()


def delete(name: str, rule_id: str) -> None:
    rule = db.find(NotificationRule, name, rule_id)
    if rule is None:
        raise NotFound(f"{name} has no notification rule with id {rule_id}.", field="id")
    tx = Transaction()
    tx.delete(NotificationRule(name, rule_id), condition=NotificationRule.id.exists(), tag="rule")
    tx.update(ContactMethod(name, rule.contact_method_id), [ContactMethod.rule_count.add(-1)])
    tx.update(User(name), [User.rule_count.add(-1)])
    try:
        tx.commit(landed=lambda: db.find(NotificationRule, name, rule_id) is None)
    except TransactionCancelled:
        return  # deleted meanwhile, with its method or alone: what was asked for


def list_page(name: str, limit: int, cursor: str | None) -> dict:
    users.get(name)
    rules, next_cursor = pagination.table_page(NotificationRule, name, limit, cursor)
    listed = [responses.NotificationRule.of(rule) for rule in rules]
    return responses.NotificationRulePage(notification_rules=listed, next_cursor=next_cursor).body()
