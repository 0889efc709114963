"""The OpenAPI 3.1 description of the world service, with one server's limits in its schemas.

Served at ``GET /openapi.json``; the fault suite generates hostile bodies from it.

Example:
    >>> spec = openapi_spec(ServeConfig(max_k=5))
    >>> spec["openapi"], sorted(spec["paths"])
    ('3.1.0', ['/browse', '/health', '/manifest', '/metrics', '/openapi.json', '/search'])
    >>> spec["components"]["schemas"]["SearchRequest"]["properties"]["k"]["maximum"]
    5
"""

from __future__ import annotations

from typing import Any

from lite_world.serve.config import ServeConfig
from lite_world.version import __version__

__all__ = ["openapi_spec"]

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

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "lite-world world service",
            "version": __version__,
            "description": "A read-only web snapshot: batched search and page browse.",
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
            "/openapi.json": get("This document."),
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
