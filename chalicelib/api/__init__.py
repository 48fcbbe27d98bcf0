"""The API's shapes: request bodies (payloads), response models (responses), and pages
with their signed cursors (pagination)."""
