"""The answer models (chalicelib/api/responses.py): one class both writes an answer and
documents it. What `of` takes from a stored item, what is left out rather than null,
and that the document cannot hold two different shapes under one name."""

from datetime import datetime, timezone

import pytest
from pydantic import BaseModel, ValidationError

import app
from chalicelib.api import responses
from chalicelib.models import Channel
from chalicelib.routes import openapi

AT = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)


def channel(**fields) -> Channel:
    values = {"kind": "slack", "name": "#ops", "url": "https://hooks.example/x", "created_at": AT, "created_by": "ann"}
    return Channel("web", "ab" * 16, **(values | fields))


def test_of_reads_the_items_attributes_and_writes_instants_in_the_apis_format():
    assert responses.Channel.of(channel()).body() == {
        "id": "ab" * 16,
        "service_name": "web",
        "kind": "slack",
        "name": "#ops",
        "url": "https://hooks.example/x",
        "topic_arn": None,
        "created_at": "2026-03-01T12:00:00.123Z",
        "created_by": "ann",
    }


def test_a_field_declared_so_is_left_out_when_none_and_written_when_set():
    assert "secret" not in responses.NewChannel.of(channel()).body()
    webhook = channel(kind="webhook", secret="whsec_x")
    assert responses.NewChannel.of(webhook).body()["secret"] == "whsec_x"
    assert "secret" not in responses.NewChannel.model_json_schema(mode="serialization")["required"]


def test_given_values_win_and_a_given_name_no_field_has_is_refused():
    assert responses.Channel.of(channel(), name="#other").body()["name"] == "#other"
    with pytest.raises(ValidationError):
        responses.Channel.of(channel(), nmae="#other")


def test_an_answer_that_breaks_its_declaration_is_refused_not_sent():
    with pytest.raises(ValidationError):
        responses.Channel.of(channel(kind="pager"))


def test_the_answer_schemas_in_the_document_are_the_models():
    document = app.API.document()
    schemas = document["components"]["schemas"]
    trigger = document["paths"]["/api/incidents/trigger"]["post"]["responses"]
    assert trigger["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Incident"}
    assert trigger["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/FoldedAlert"}
    assert schemas["FoldedAlert"] == responses.FoldedAlert.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    assert set(schemas["Incident"]["required"]) == set(responses.Incident.model_fields)


def test_two_different_shapes_under_one_name_cannot_enter_the_document():
    class Health(BaseModel):
        status: int

    schemas: dict = {}
    openapi._schema_ref(responses.Health, schemas, "serialization")
    with pytest.raises(ValueError, match="Health"):
        openapi._schema_ref(Health, schemas, "serialization")
