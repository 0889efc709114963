"""The service's request bodies, validated field by field; errors as JSON naming the field.

``POST /search``
``{"queries": [str], "k": int = 10, "exclude": [url] = [], "snippets": bool = true}``
→ ``{"results": [[{"rank", "url", "title", "snippet", "date", "score"}, ...] per query]}``

``POST /browse``  ``{"urls": [url], "goal": str | null = null, "exclude": [url] = []}``
→ ``{"pages": [{"url", "title", "markdown", "summary", "domain", "source", "date", "hash"}
| null]}``
plus ``"text"`` (the Visit tool's rendering) when a goal is given.

Errors: ``{"error": {"code": str, "field": str | null, "message": str}}`` with a 4xx/5xx status.

Strings are read as Unicode text: a lone surrogate escape (``"\\ud800"``, legal JSON but not a
character) becomes U+FFFD, so every string the world sees can be encoded as UTF-8.

Example:
    >>> cfg = ServeConfig()
    >>> parse_search({"queries": ["paris"], "k": 3}, cfg)
    SearchRequest(queries=('paris',), k=3, exclude=(), snippets=True)
    >>> parse_search({"queries": ["paris"], "k": 0}, cfg)
    Traceback (most recent call last):
    ...
    lite_world.serve.bodies.RequestError: 422 k: Expects k to be an int in [1, 100], actual: 0
"""

from __future__ import annotations

import re
from typing import Any

from lite_world.errors import LiteWorldError
from lite_world.serve.backend import BrowseRequest, SearchRequest, error_body
from lite_world.serve.config import ServeConfig

__all__ = ["RequestError", "parse_search", "parse_browse", "scalar_text"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def scalar_text(s: str) -> str:
    """``s`` with each lone surrogate replaced by U+FFFD (the rest unchanged).

    Example:
        >>> scalar_text("café " + chr(0xD800) + "!") == "café \\ufffd!"
        True
    """
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", s)


class RequestError(LiteWorldError):
    """A request the server refuses: the HTTP status, an error code and the field at fault."""

    def __init__(
        self,
        status: int,
        code: str,
        field: str | None,
        message: str,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(f"{status} {field}: {message}" if field else f"{status}: {message}")
        self.status, self.code, self.field, self.message = status, code, field, message
        self.headers = headers or {}

    def body(self) -> bytes:
        return error_body(self.code, self.field, self.message)


def _invalid(field: str, message: str) -> RequestError:
    return RequestError(422, "invalid_field", field, message)


def _check_keys(body: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RequestError(
            400, "invalid_body", "body", f"Expects a JSON object, actual: {type(body).__name__}"
        )
    for key in body:
        if key not in allowed:
            raise _invalid(
                str(key)[:100],
                f"Expects only the fields {list(allowed)}, actual: unknown field "
                f"{str(key)[:100]!r}",
            )
    return body


def _str_list(
    body: dict[str, Any],
    name: str,
    max_items: int,
    max_chars: int,
    *,
    required: bool,
    min_items: int = 0,
) -> tuple[str, ...]:
    if name not in body:
        if required:
            raise _invalid(name, f"Expects the field {name!r} (a list of strings), actual: missing")
        return ()
    v = body[name]
    if not isinstance(v, list):
        raise _invalid(name, f"Expects {name} to be a list of strings, actual: {type(v).__name__}")
    if not min_items <= len(v) <= max_items:
        raise _invalid(
            name, f"Expects {name} to hold {min_items} to {max_items} items, actual: {len(v)}"
        )
    for i, s in enumerate(v):
        if not isinstance(s, str):
            raise _invalid(
                f"{name}[{i}]", f"Expects {name}[{i}] to be a string, actual: {type(s).__name__}"
            )
        if len(s) > max_chars:
            raise _invalid(
                f"{name}[{i}]",
                f"Expects {name}[{i}] to have at most {max_chars} characters, actual: {len(s)}",
            )
    return tuple(scalar_text(s) for s in v)


def _int(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    v = body.get(name, default)
    if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
        raise _invalid(name, f"Expects {name} to be an int in [{low}, {high}], actual: {v!r}"[:300])
    return v


def parse_search(body: Any, cfg: ServeConfig) -> SearchRequest:
    """Validate a ``/search`` body."""
    body = _check_keys(body, ("queries", "k", "exclude", "snippets"))
    queries = _str_list(body, "queries", cfg.max_queries, cfg.max_query_chars, required=True)
    k = _int(body, "k", 10, 1, cfg.max_k)
    exclude = _str_list(body, "exclude", cfg.max_exclude, cfg.max_url_chars, required=False)
    snippets = body.get("snippets", True)
    if not isinstance(snippets, bool):
        raise _invalid(
            "snippets", f"Expects snippets to be true or false, actual: {type(snippets).__name__}"
        )
    return SearchRequest(queries, k, exclude, snippets)


def parse_browse(body: Any, cfg: ServeConfig) -> BrowseRequest:
    """Validate a ``/browse`` body."""
    body = _check_keys(body, ("urls", "goal", "exclude"))
    urls = _str_list(body, "urls", cfg.max_urls, cfg.max_url_chars, required=True, min_items=1)
    goal = body.get("goal")
    if goal is not None:
        if not isinstance(goal, str):
            raise _invalid(
                "goal", f"Expects goal to be a string or null, actual: {type(goal).__name__}"
            )
        if len(goal) > cfg.max_goal_chars:
            raise _invalid(
                "goal",
                f"Expects goal to have at most {cfg.max_goal_chars} characters, actual: "
                f"{len(goal)}",
            )
        goal = scalar_text(goal)
    exclude = _str_list(body, "exclude", cfg.max_exclude, cfg.max_url_chars, required=False)
    return BrowseRequest(urls, goal, exclude)
