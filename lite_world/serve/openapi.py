"""The OpenAPI 3.1 description of the world service, with one server's limits in its schemas.

Served at ``GET /openapi.json``; the fault suite generates hostile bodies from it.

Example:
    >>> spec = openapi_spec(ServeConfig(max_k=5))
    >>> spec["openapi"], sorted(spec["paths"])[:4]
    ('3.1.0', ['/browse', '/health', '/manifest', '/metrics'])
    >>> sorted(spec["paths"])[4:]
    ['/openapi.json', '/retrieve', '/search']
    >>> spec["components"]["schemas"]["SearchRequest"]["properties"]["k"]["maximum"]
    5
    >>> spec["paths"]["/retrieve"]["post"]["requestBody"]["content"]["application/json"]["example"]
    {'queries': ['Who founded the Rock and Roll Hall of Fame?'], 'topk': 3, 'return_scores': True}
"""

from __future__ import annotations

from typing import Any

from lite_world.serve.config import ServeConfig
from lite_world.serve.retrieve import DEFAULT_TOPK, MAX_QUERIES
from lite_world.version import __version__

__all__ = ["openapi_spec", "RETRIEVE_EXAMPLE"]

# The documented /retrieve call (also in lite_world/serve/README.md; a test sends it)
RETRIEVE_EXAMPLE = {
    "queries": ["Who founded the Rock and Roll Hall of Fame?"],
    "topk": 3,
    "return_scores": True,
}

_REF = "#/components/schemas/"


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(c): {
            "description": _WHY[c],
            "content": {"application/json": {"schema": {"$ref": _REF + "Error"}}},
        }
        for c in codes
    }


_WHY = {
    400: "Malformed JSON, a body that is not an object, or a request the HTTP parser refused.",
    401: "A missing or wrong bearer token.",
    408: "The request's headers or body did not arrive in time.",
    413: "The body is over the size limit.",
    422: "A bad field, named in the error.",
    503: "The queue is full (Retry-After says when to retry), or the server is starting.",
    504: "No answer within the request timeout.",
}


def _strings(max_items: int, max_chars: int, min_items: int = 0) -> dict[str, Any]:
    return {
        "type": "array",
        "minItems": min_items,
        "maxItems": max_items,
        "items": {"type": "string", "maxLength": max_chars},
    }


def openapi_spec(config: ServeConfig) -> dict[str, Any]:
    """The service's OpenAPI document for ``config`` (a plain dict, ready for ``json.dumps``)."""
    c = config
    hit = {
        "type": "object",
        "required": ["rank", "url", "title", "snippet", "date", "score"],
        "properties": {
            "rank": {"type": "integer"},
            "url": {"type": "string"},
            "title": {"type": "string"},
            "snippet": {"type": "string"},
            "date": {"type": ["string", "null"]},
            "score": {"type": "number"},
        },
    }
    rows = {  # one query's /retrieve hits: scored rows, or the rows themselves
        "type": "array",
        "items": {"anyOf": [{"$ref": _REF + "RetrieveScoredRow"}, {"$ref": _REF + "RetrieveRow"}]},
    }
    schemas = {
        "SearchRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["queries"],
            "properties": {
                "queries": _strings(c.max_queries, c.max_query_chars),
                "k": {"type": "integer", "minimum": 1, "maximum": c.max_k, "default": 10},
                "exclude": _strings(c.max_exclude, c.max_url_chars),
                "snippets": {"type": "boolean", "default": True},
            },
        },
        "SearchResponse": {
            "type": "object",
            "required": ["results"],
            "properties": {"results": {"type": "array", "items": {"type": "array", "items": hit}}},
        },
        "BrowseRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["urls"],
            "properties": {
                "urls": _strings(c.max_urls, c.max_url_chars, min_items=1),
                "goal": {"type": ["string", "null"], "maxLength": c.max_goal_chars},
                "exclude": _strings(c.max_exclude, c.max_url_chars),
            },
        },
        "BrowseResponse": {
            "type": "object",
            "required": ["pages"],
            "properties": {
                "pages": {"type": "array", "items": {"type": ["object", "null"]}},
                "text": {"type": "string"},
            },
        },
        # Search-R1's protocol (lite_world/serve/retrieve.py); unknown fields are ignored there
        "RetrieveRequest": {
            "type": "object",
            "required": ["queries"],
            "properties": {
                "queries": _strings(MAX_QUERIES, c.max_query_chars),
                "topk": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "maximum": c.max_k,
                    "default": DEFAULT_TOPK,
                },
                "return_scores": {"type": "boolean", "default": False},
            },
        },
        # one query: SkyRL (JSON, topk), GEM (MessagePack, topk), rLLM (JSON, top_k)
        "RetrieveOneRequest": {
            "type": "object",
            "required": ["query"],
            "properties": {
                "query": {"type": "string", "maxLength": c.max_query_chars},
                "topk": {"type": ["integer", "null"], "minimum": 1, "maximum": c.max_k},
                "top_k": {"type": ["integer", "null"], "minimum": 1, "maximum": c.max_k},
                "return_scores": {
                    "type": "boolean",
                    "description": "default: true with top_k (rLLM), else false",
                },
            },
        },
        "RetrieveRow": {
            "type": "object",
            "required": ["id", "contents"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string"},
                "contents": {"type": "string", "description": '"Title"\ntext'},
            },
        },
        "RetrieveScoredRow": {
            "type": "object",
            "required": ["document", "score"],
            "additionalProperties": False,
            "properties": {"document": {"$ref": _REF + "RetrieveRow"}, "score": {"type": "number"}},
        },
        "RetrieveResponse": {
            "type": "object",
            "required": ["result"],
            "properties": {"result": {"type": "array", "items": rows}},
        },
        "RetrieveFlatResponse": {  # GEM: one MessagePack query's hits, unnested
            "type": "object",
            "required": ["result"],
            "properties": {"result": rows},
        },
        "RetrieveOneResponse": {  # rLLM
            "type": "object",
            "required": ["results"],
            "properties": {
                "results": {"type": "array", "items": {"$ref": _REF + "RetrieveScoredRow"}}
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "field", "message"],
                    "properties": {
                        "code": {"type": "string"},
                        "field": {"type": ["string", "null"]},
                        "message": {"type": "string"},
                    },
                }
            },
        },
    }

    def post(name: str, summary: str) -> dict[str, Any]:
        return {
            "post": {
                "summary": summary,
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"{_REF}{name}Request"}}},
                },
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {
                            "application/json": {"schema": {"$ref": f"{_REF}{name}Response"}}
                        },
                    },
                    **_errors(400, 401, 408, 413, 422, 503, 504),
                },
            }
        }

    def get(summary: str, media: str = "application/json", security: bool = True) -> dict[str, Any]:
        op: dict[str, Any] = {
            "summary": summary,
            "responses": {
                "200": {"description": "OK", "content": {media: {"schema": {}}}},
                **_errors(401),
            },
        }
        if security:
            op["security"] = [{"bearer": []}]
        return {"get": op}

    def either(*names: str) -> dict[str, Any]:
        return {"anyOf": [{"$ref": _REF + n} for n in names]}

    retrieve = post("Retrieve", "")
    op = retrieve["post"]
    op["summary"] = "Search-R1's retriever protocol: top-k corpus rows per query."
    op["description"] = (
        "What Search-R1, verl's search example, SkyRL, GEM and rLLM call. `topk` null or absent "
        f"means {DEFAULT_TOPK}; without `return_scores` each hit is the row itself. Rows of a "
        "world built from a Search-R1 corpus are the corpus rows; other worlds give the page URL "
        "as `id` and the title plus a snippet as `contents`. One `query` instead of `queries`: "
        "SkyRL sends `{query, topk, return_scores}` and reads `{result: [[...]]}`; GEM sends the "
        "same in MessagePack and reads `{result: [...]}` (unnested, in MessagePack); rLLM sends "
        "`{query, top_k}` and reads `{results: [...]}`. Unknown fields are ignored."
    )
    request = either("RetrieveRequest", "RetrieveOneRequest")
    answer = either("RetrieveResponse", "RetrieveFlatResponse", "RetrieveOneResponse")
    op["requestBody"]["content"] = {
        "application/json": {"schema": request, "example": RETRIEVE_EXAMPLE},
        "application/msgpack": {"schema": request},
    }
    op["responses"]["200"]["content"] = {
        "application/json": {"schema": answer},
        "application/msgpack": {"schema": answer},
    }
    op["responses"]["400"] = {
        **op["responses"]["400"],
        "description": "Malformed JSON or MessagePack, or a body that is not an object.",
    }

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "lite-world world service",
            "version": __version__,
            "description": "A read-only web snapshot: batched search and page browse, and "
            "Search-R1's /retrieve.",
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/search": post("Search", "Batched search: ranked hits per query."),
            "/browse": post(
                "Browse", "Pages by URL, and the Visit tool's text when a goal is given."
            ),
            "/health": get("Liveness; details (pid, limits) with the token.", security=False),
            "/metrics": get("Prometheus metrics.", media="text/plain"),
            "/manifest": get("The world's manifest."),
            "/retrieve": retrieve,
            "/openapi.json": get("This document."),
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
