"""The endpoint declarations, the schema checks and the OpenAPI document, without a server."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from codeyard.rest.api import (
    ApiError,
    Endpoint,
    Param,
    all_endpoints,
    array,
    check,
    obj,
    parse_time,
)
from codeyard.rest.web import _router, openapi_document

pytestmark = pytest.mark.db


def _noop(call):
    return None


def test_path_templates_become_rules_and_openapi_paths():
    endpoint = Endpoint("GET", "/wiki/{name:path}/attachments/{filename}", "x", _noop, "wiki")
    assert endpoint.rule_path == "/wiki/<path:name>/attachments/<filename>"
    assert endpoint.openapi_path == "/wiki/{name}/attachments/{filename}"
    assert endpoint.path_params() == ["name", "filename"]
    assert endpoint.operation_id == "getWikiNameAttachmentsFilename"
    paged = Endpoint("GET", "/tickets", "x", _noop, "tickets", paged=True,
                     params=[Param("q", "query")])
    assert [p.name for p in paged.all_params()] == ["q", "page", "per_page"]


def test_schema_check_names_the_place_that_differs():
    schema = obj({"fields": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
                  "comment": {"type": "string"}, "tags": array({"type": "integer"})},
                 ("fields",), patternProperties={"^action_": {"type": "string"}})
    check({"fields": {"a": "b", "c": None}, "action_x": "y", "tags": [1, 2]}, schema)
    cases = [
        ({}, "the field 'fields' is missing"),
        ({"fields": {}, "other": 1}, "unknown field 'other'"),
        ({"fields": {"a": 1}}, r"body.fields.a must be string or null, not integer"),
        ({"fields": {}, "comment": True}, "body.comment must be string, not boolean"),
        ({"fields": {}, "tags": [1, "2"]}, r"body.tags\[1\] must be integer"),
        ({"fields": {}, "action_x": 3}, "body.action_x must be string"),
        ([], "body must be object, not array"),
    ]
    for value, message in cases:
        with pytest.raises(ApiError, match=message) as info:
            check(value, schema)
        assert info.value.status == 400
    with pytest.raises(ApiError, match="at most 100"):
        check(101, {"type": "integer", "maximum": 100}, "per_page")
    with pytest.raises(ApiError, match="must be integer, not boolean"):
        check(True, {"type": "integer"}, "id")


def test_times_are_iso_8601():
    assert parse_time("1970-01-01T00:00:01Z", "due") == 1_000_000
    assert parse_time("1970-01-01T01:00:01+01:00", "due") == 1_000_000
    assert parse_time(None, "due") is None
    with pytest.raises(ApiError, match="not an ISO 8601"):
        parse_time("next week", "due")


def test_openapi_document_is_valid_and_matches_the_dispatcher(env):
    document = openapi_document(env, "http://example.org/api/v1/")
    validate(document)  # raises on an invalid OpenAPI 3.1 document
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "http://example.org/api/v1"}]
    documented = {(path, method.upper()) for path, ops in document["paths"].items()
                  for method in ops}
    the_map, endpoints = _router(env)
    served = set()
    for rule in the_map.iter_rules():
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method))
    assert served == documented
    # The areas the API covers, each with its main operations.
    for expected in [("/tickets", "GET"), ("/tickets", "POST"), ("/tickets/{id}", "PATCH"),
                     ("/tickets/{id}", "DELETE"), ("/tickets/{id}/changes", "GET"),
                     ("/tickets/{id}/attachments/{filename}", "PUT"), ("/wiki/{name}", "PUT"),
                     ("/wiki/{name}/history", "GET"), ("/milestones/{name}", "PATCH"),
                     ("/components", "POST"), ("/repositories/{repo}/changesets", "GET"),
                     ("/repositories/{repo}/changesets/{rev}", "GET"), ("/timeline", "GET"),
                     ("/search", "GET"), ("/openapi.json", "GET")]:
        assert expected in documented, expected
    ticket_get = document["paths"]["/tickets/{id}"]["get"]
    assert ticket_get["x-permission"] == "TICKET_VIEW"
    assert ticket_get["parameters"][0] == {"name": "id", "in": "path", "required": True,
                                           "schema": {"type": "integer", "minimum": 1},
                                           "description": "The ticket's number."}
    listing = document["paths"]["/tickets"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"q", "page", "per_page"}
    envelope = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert envelope["required"] == ["items", "total", "page", "per_page"]
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert len(endpoints) == len(documented)


def test_a_disabled_plugin_takes_its_endpoints_out_of_the_document(make_env):
    env = make_env("nowiki", options=[("components", "codeyard.wiki.rest", "disabled")])
    paths = openapi_document(env, "http://x/api/v1")["paths"]
    assert "/wiki" not in paths and "/tickets" in paths
    assert all(e.tag != "wiki" for e in all_endpoints(env))
