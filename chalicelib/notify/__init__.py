"""Notifications: a service's channels (channels), how a message leaves (senders), the
outbox transitions wait in until handed over (outbox), and the delivery attempts,
leased and retried (delivery)."""
