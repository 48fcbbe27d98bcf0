"""Contact methods: how a user is reached. An SMS number pages nobody until its owner
proves it is theirs with the 6-digit code sent to it; a method whose send failed for
good is marked so and skipped."""

import hashlib
import secrets
import uuid
from datetime import timedelta

from chalicelib import clock, db
from chalicelib.api import pagination, responses
from chalicelib.api.payloads import ContactMethodBody
from chalicelib.db import Transaction, TransactionCancelled
from chalicelib.errors import Conflict, InvalidInput, NotFound
from chalicelib.models import ContactMethod, NotificationRule, User
from chalicelib.people import users
from chalicelib.transport import sms

# Every rule of a user may page at once: a handful of ways to reach a person is plenty.
MAX_PER_USER = 10
CODE_LIFETIME = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5


def _code_hash(method_id: str, code: str) -> str:
    return hashlib.sha256(f"{method_id}:{code}".encode()).hexdigest()


def address_key(kind: str, address: str) -> str:
    """The by-address index's key: how an SMS reply or a Slack button finds its user."""
    return f"{kind}#{address}"


def create(name: str, body: ContactMethodBody, *, verified: bool = False) -> dict:
    """`verified`: take an SMS number as verified without a code; only the local demo
    does, for numbers no phone answers."""
    now = clock.now()
    method_id = uuid.uuid4().hex
    verifying = body.kind == "sms" and not verified
    code = f"{secrets.randbelow(10**6):06d}" if verifying else None
    method = ContactMethod(
        name,
        method_id,
        kind=body.kind,
        address=body.address,
        label=body.label,
        verified=not verifying,
        code_hash=_code_hash(method_id, code) if code else None,
        code_expires_at=now + CODE_LIFETIME if code else None,
        code_attempts=0,
        # A Slack member id is Slack's to vouch for; a number is findable once verified.
        address_key=address_key(body.kind, body.address) if body.kind == "slack" else None,
        secret=f"whsec_{secrets.token_urlsafe(32)}" if body.kind == "webhook" else None,
        created_at=now,
    )
    tx = Transaction()
    tx.put(method, condition=ContactMethod.id.does_not_exist())
    users.count_one_more(tx, name, User.method_count, MAX_PER_USER)
    try:
        tx.commit(landed=lambda: find(name, method_id) is not None)
    except TransactionCancelled as cancelled:
        raise users.refused(cancelled, name, MAX_PER_USER, "contact methods") from None
    verification = None
    if code:
        sent = sms.send(body.address, f"oncall: your verification code is {code}. It expires in 10 minutes.")
        verification = (
            f"A code was sent to {sms.masked(body.address)}: POST it to verify within 10 minutes."
            if sent.delivered
            else f"The code could not be sent ({sent.detail}); delete the number and add it again."
        )
    return responses.NewContactMethod.of(method, verification=verification).body()


def find(name: str, method_id: str) -> ContactMethod | None:
    return db.find(ContactMethod, name, method_id)


def get(name: str, method_id: str) -> ContactMethod:
    method = find(name, method_id)
    if method is None:
        raise NotFound(f"{name} has no contact method with id {method_id}.", field="id")
    return method


def verify(name: str, method_id: str, code: str) -> dict:
    """Enable an SMS number with the code sent to it. At most MAX_CODE_ATTEMPTS wrong
    codes count, each a conditional write, so parallel guesses get no more."""
    method = get(name, method_id)
    if method.verified:
        return responses.ContactMethod.of(method).body()
    now = clock.now()
    if method.code_expires_at is None or method.code_expires_at <= now:
        raise Conflict("The code has expired; delete the number and add it again for a new one.", field="code")
    if method.code_attempts >= MAX_CODE_ATTEMPTS:
        raise Conflict("Too many wrong codes; delete the number and add it again for a new one.", field="code")
    pending = (ContactMethod.verified == False) & (ContactMethod.code_attempts < MAX_CODE_ATTEMPTS)  # noqa: E712
    right = (ContactMethod.code_hash == _code_hash(method_id, code)) & (ContactMethod.code_expires_at > now)
    item = ContactMethod(name, method_id)
    verified = [
        ContactMethod.verified.set(True),
        ContactMethod.code_hash.remove(),
        ContactMethod.code_expires_at.remove(),
        ContactMethod.address_key.set(address_key(method.kind, method.address)),
    ]

    def landed() -> bool:
        stored = find(name, method_id)
        return stored is not None and stored.verified

    if db.settle(lambda: item.update(actions=verified, condition=pending & right), landed):
        return responses.ContactMethod.of(get(name, method_id)).body()
    # Counted as stored (the update answers the new count), so parallel guesses each
    # hear how many are really left. A resent count errs toward fewer attempts.
    counted = db.settle(
        lambda: item.update(actions=[ContactMethod.code_attempts.add(1)], condition=pending), lambda: False
    )
    left = MAX_CODE_ATTEMPTS - int(item.code_attempts or MAX_CODE_ATTEMPTS) if counted else 0
    if left <= 0:
        raise Conflict("Too many wrong codes; delete the number and add it again for a new one.", field="code")
    raise InvalidInput(f"The code is wrong; {left} attempt{'s' if left != 1 else ''} left.", field="code")


def delete(name: str, method_id: str) -> None:
    """The method and the rules that page through it, in one transaction conditioned on
    its rule count: a rule added meanwhile fails it rather than point nowhere."""
    method = get(name, method_id)
    rules = [rule for rule in NotificationRule.query(name, consistent_read=True) if rule.contact_method_id == method_id]
    tx = Transaction()
    tx.delete(ContactMethod(name, method_id), condition=ContactMethod.rule_count == len(rules), tag="method")
    for rule in rules:
        tx.delete(NotificationRule(name, rule.id))
    tx.update(User(name), [User.method_count.add(-1), User.rule_count.add(-len(rules))])
    try:
        tx.commit(landed=lambda: find(name, method_id) is None)
    except TransactionCancelled:
        if find(name, method.id) is None:
            return  # deleted meanwhile: what was asked for
        raise db.retry_later(f"{name}'s notification rules changed meanwhile") from None


def list_page(name: str, limit: int, cursor: str | None) -> dict:
    users.get(name)
    methods, next_cursor = pagination.table_page(ContactMethod, name, limit, cursor)
    listed = [responses.ContactMethod.of(method) for method in methods]
    return responses.ContactMethodPage(contact_methods=listed, next_cursor=next_cursor).body()


def mark_failed(method: ContactMethod, why: str) -> None:
    """A send through the method failed for good (a number that cannot take SMS, an
    address SES refuses): it is shown as failed and pages no more. Gone already is fine."""
    actions = [ContactMethod.failed_at.set(clock.now()), ContactMethod.failure.set(why)]
    item = ContactMethod(method.user, method.id)
    db.settle(lambda: item.update(actions=actions, condition=ContactMethod.id.exists()), lambda: True)
