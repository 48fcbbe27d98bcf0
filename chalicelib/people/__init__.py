"""People who can be paged: users (users), how each is reached (contact_methods, with
SMS numbers verified by a code) and when (rules: a delay and an urgency per method)."""
