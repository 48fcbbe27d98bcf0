"""One transition for many incidents at once. Each id goes through the same function
as its single-incident route, so every rule and condition applies per incident, and
what one incident answers (a refusal, a missing id, contention) is that id's result,
never the whole request's."""

from collections.abc import Callable

from pynamodb.exceptions import PynamoDBException

from chalicelib.api import responses
from chalicelib.db import is_transient, retry_later
from chalicelib.errors import DomainError
from chalicelib.incident import incidents

Transition = Callable[[int, str | None], dict]


def acknowledge(ids: list[int], actor: str | None) -> dict:
    return _each(incidents.acknowledge, ids, actor)


def resolve(ids: list[int], actor: str | None) -> dict:
    return _each(incidents.resolve, ids, actor)


def _each(transition: Transition, ids: list[int], actor: str | None) -> dict:
    results = [_outcome(transition, incident_id, actor) for incident_id in ids]
    succeeded = sum(1 for result in results if isinstance(result, responses.BulkSucceeded))
    return responses.BulkResult(results=results, succeeded=succeeded, failed=len(results) - succeeded).body()


def _outcome(
    transition: Transition, incident_id: int, actor: str | None
) -> responses.BulkSucceeded | responses.BulkFailed:
    try:
        return responses.BulkSucceeded(id=incident_id, status=200, incident=transition(incident_id, actor))
    except DomainError as error:
        refused = error
    except PynamoDBException as error:
        if not is_transient(error):
            raise
        refused = retry_later()
    return responses.BulkFailed(id=incident_id, status=refused.status, error=refused.body())
