"""API keys."""

from chalicelib.api import payloads, responses
from chalicelib.apikey import access, keys
from chalicelib.apikey.access import MANAGE
from chalicelib.routes.routing import Routes

routes = Routes("keys")


@routes(
    "/api/keys",
    "GET",
    admits=MANAGE,
    summary="API keys (never their tokens)",
    query=("limit", "cursor"),
    answer=responses.ApiKeyPage,
)
def list_keys():
    return keys.list_page(routes.limit(), routes.query("cursor"))


@routes(
    "/api/keys",
    "POST",
    admits=MANAGE,
    summary="Create an API key; the answer holds its token, shown this once",
    body=payloads.KeyBody,
    status=201,
    answer=responses.NewApiKey,
)
def create_key(caller):
    return routes.created(keys.create(routes.body(payloads.KeyBody), caller.actor))


@routes("/api/keys/{key_id}", "DELETE", admits=MANAGE, summary="Revoke an API key", answer=responses.ApiKey)
def revoke_key(key_id):
    # This process stops honouring it at once, even when the answer is an error after the
    # revocation may have been written; others within ONCALL_KEY_CACHE_SECONDS.
    try:
        return keys.revoke(key_id)
    finally:
        access.forget_keys()
