"""``POST /retrieve`` in the service's own description: ``GET /openapi.json`` lists it, its
documented example works against a served tiny world, and real answers (rows, scored rows,
rLLM's dialect, errors) validate against the schemas it publishes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from lite_world.serve.openapi import RETRIEVE_EXAMPLE
from lite_world.serve.retrieve import DEFAULT_TOPK, MAX_QUERIES

README = Path(__file__).resolve().parents[2] / "lite_world" / "serve" / "README.md"


@pytest.fixture(scope="module")
def spec(http):
    status, _, body = http("GET", "/openapi.json")
    assert status == 200
    return body


def validator(spec, name: str):
    """A JSON Schema (2020-12, as OpenAPI 3.1 uses) validator for one named component."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema)


def operation(spec):
    return spec["paths"]["/retrieve"]["post"]


def test_the_spec_lists_retrieve_with_this_servers_limits(spec, served):
    op = operation(spec)
    assert "Search-R1" in op["summary"]
    assert set(op["requestBody"]["content"]) == {"application/json", "application/msgpack"}
    assert set(op["responses"]) == {"200", "400", "401", "408", "413", "422", "503", "504"}
    assert "MessagePack" in op["responses"]["400"]["description"]
    props = spec["components"]["schemas"]["RetrieveRequest"]["properties"]
    assert props["queries"]["maxItems"] == MAX_QUERIES
    assert props["queries"]["items"]["maxLength"] == served.config.max_query_chars
    assert props["topk"]["maximum"] == served.config.max_k
    assert props["topk"]["default"] == DEFAULT_TOPK == 3  # Search-R1's default
    assert validator(spec, "RetrieveRequest").is_valid(RETRIEVE_EXAMPLE)


def test_the_documented_example_works_against_a_served_world(spec, http, world):
    example = operation(spec)["requestBody"]["content"]["application/json"]["example"]
    assert example == RETRIEVE_EXAMPLE
    status, headers, body = http("POST", "/retrieve", example)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    validator(spec, "RetrieveResponse").validate(body)
    (hits,) = body["result"]
    assert len(hits) == example["topk"]
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True) and all(isinstance(s, float) for s in scores)
    for h in hits:  # a world not built from a Search-R1 corpus: URL as id, '"Title"\n...'
        page = world.get_page(h["document"]["id"])
        assert page is not None
        assert h["document"]["contents"].startswith(json.dumps(page.title) + "\n")
    assert [h["document"]["id"] for h in hits] == [
        x.url for x in world.search(example["queries"], example["topk"])[0]
    ]


def test_the_readme_documents_the_same_example():
    text = README.read_text()
    assert "POST /retrieve" in text and "/openapi.json" in text
    assert json.dumps(RETRIEVE_EXAMPLE) in text


def test_rows_and_the_rllm_dialect_validate(spec, http):
    status, _, body = http("POST", "/retrieve", {"queries": ["Hall of Fame", "museum"], "topk": 2})
    assert status == 200
    validator(spec, "RetrieveResponse").validate(body)
    assert [len(r) for r in body["result"]] == [2, 2]
    assert all(set(h) == {"id", "contents"} for r in body["result"] for h in r)
    status, _, one = http("POST", "/retrieve", {"query": "Hall of Fame", "top_k": 2})
    assert status == 200
    validator(spec, "RetrieveOneResponse").validate(one)
    assert len(one["results"]) == 2
    assert [h["document"] for h in one["results"]] == body["result"][0]
    status, _, skyrl = http("POST", "/retrieve", {"query": "Hall of Fame", "topk": 2})
    assert status == 200 and skyrl == {"result": body["result"][:1]}
    validator(spec, "RetrieveResponse").validate(skyrl)
    flat = {"result": skyrl["result"][0]}  # GEM's MessagePack answer, as JSON
    validator(spec, "RetrieveFlatResponse").validate(flat)
    assert not validator(spec, "RetrieveResponse").is_valid(flat)


def test_the_schemas_reject_a_wrong_shape(spec):
    """The validator is not vacuous: shapes the protocol does not allow fail it."""
    bad = [
        {"result": [[{"id": 1, "contents": "x"}]]},
        {"result": [[{"document": {"id": "a"}, "score": 1.0}]]},
        {"results": []},
    ]
    for body in bad:
        assert not validator(spec, "RetrieveResponse").is_valid(body)
    assert not validator(spec, "RetrieveRequest").is_valid({"queries": "one string"})
    assert not validator(spec, "RetrieveRequest").is_valid({"queries": ["q"], "topk": 0})


@pytest.mark.parametrize(
    "payload,raw,token,status,code,field",
    [
        ({"queries": ["q"], "topk": 0}, None, True, 422, "invalid_field", "topk"),
        (
            {"queries": ["q"], "return_scores": "yes"},
            None,
            True,
            422,
            "invalid_field",
            "return_scores",
        ),
        ({"topk": 3}, None, True, 422, "invalid_field", "queries"),
        ([1, 2], None, True, 400, "invalid_body", "body"),
        (None, b'{"queries": [', True, 400, "malformed_json", "body"),
        ({"queries": ["q"]}, None, False, 401, None, None),
    ],
)
def test_documented_errors(spec, http, payload, raw, token, status, code, field):
    from tests.serve.conftest import TOKEN

    got, _, body = http("POST", "/retrieve", payload, raw=raw, token=TOKEN if token else None)
    assert got == status and str(status) in operation(spec)["responses"]
    validator(spec, "Error").validate(body)
    if code is not None:
        assert body["error"]["code"] == code
    if field is not None:
        assert body["error"]["field"] == field
    if status == 422:
        assert body["error"]["message"].startswith("Expects ")
