"""Search-R1's ``POST /retrieve``, answered by the world service (batching, caches, fusion).

The protocol of Search-R1's ``retrieval_server.py``, which Search-R1, verl's search example,
SkyRL, GEM and rLLM call:

``{"queries": [str], "topk": int | null = 3, "return_scores": bool = false}``
→ ``{"result": [[hit, ...] per query]}``, each hit ``{"document": ROW, "score": float}`` with
``return_scores``, else ``ROW`` itself; ``ROW = {"id": str, "contents": '"Title"\\ntext'}``.

A request goes through the same micro-batcher and caches as ``POST /search``, so concurrent
clients share encoder passes. Rows come from the page store: a world built from a Search-R1
corpus gives back the corpus row (its ``id`` and ``contents``, see
:mod:`lite_world.store.ingest.searchr1`); any other world gives the page URL as ``id`` and the
title with a query-relevant snippet as ``contents``. ``score`` is the world's ranking score
(the RRF score in hybrid mode, the inner product in dense mode). Unknown fields are ignored,
as Search-R1's server ignores them; bad ones get a JSON 4xx naming the field.

The one-query bodies of the other stacks are answered in the shape each client reads (checked
against their released clients in ``tests/serve/test_retrieve_on_cpu.py``):

- SkyRL (``skyrl_gym.tools.SearchToolGroup``, skyrl-gym 0.4.0) sends ``{"query": str, "topk",
  "return_scores"}`` as JSON and reads ``{"result": [[hit, ...]]}``, as for ``queries``.
- GEM (``gem.tools.search_tool.SearchTool``, gem-llm 0.1.0) sends the same body as MessagePack
  (no content type) and reads ``{"result": [hit, ...]}``, the one query's hits unnested, as
  MessagePack: a MessagePack body gets a MessagePack answer (needs the ``msgpack`` package).
- rLLM's search example sends ``{"query": str, "top_k": int}`` and reads
  ``{"results": [{"document": ROW, "score": float}, ...]}``; its ``top_k`` names the dialect.

Example:
    >>> from lite_world.serve.config import ServeConfig
    >>> parse_retrieve({"queries": ["paris"]}, ServeConfig())
    RetrieveRequest(queries=('paris',), topk=3, return_scores=False, form='batch')
    >>> parse_retrieve({"query": "paris", "top_k": 5}, ServeConfig()).form
    'rllm'
    >>> parse_retrieve({"query": "paris", "topk": 5}, ServeConfig(), packed=True).form
    'flat'
    >>> parse_retrieve({"queries": ["paris"], "topk": 0}, ServeConfig())
    Traceback (most recent call last):
    ...
    lite_world.serve.bodies.RequestError: 422 topk: Expects topk to be null or an int in [1, 100], actual: 0
"""  # noqa: E501

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lite_world._lazy import require
from lite_world.serve.backend import SearchRequest, dumps
from lite_world.serve.bodies import RequestError, scalar_text
from lite_world.serve.config import ServeConfig
from lite_world.store.ingest.searchr1 import join_contents, passage_id

__all__ = ["DEFAULT_TOPK", "RetrieveRequest", "parse_retrieve", "to_row", "retrieve_endpoint"]

DEFAULT_TOPK = 3  # Search-R1's retrieval_server.py --topk default
MAX_QUERIES = 4096  # a trainer step's queries in one request; split into /search-sized chunks
MSGPACK = "application/msgpack"


@dataclass(frozen=True)
class RetrieveRequest:
    """One validated ``POST /retrieve`` body."""

    queries: tuple[str, ...]
    topk: int = DEFAULT_TOPK
    return_scores: bool = False
    form: str = "batch"
    """The answer's shape: ``batch`` ``{"result": [[hit] per query]}``; ``flat`` (GEM)
    ``{"result": [hit]}``; ``rllm`` ``{"results": [hit]}``."""

    def wrap(self, per_query: list[Any]) -> dict[str, Any]:
        """The answer body around the per-query hit lists, in this request's :attr:`form`."""
        if self.form == "batch":
            return {"result": per_query}
        one = per_query[0] if per_query else []
        return {"results": one} if self.form == "rllm" else {"result": one}


def _invalid(field: str, message: str) -> RequestError:
    return RequestError(422, "invalid_field", field, message[:300])


def parse_retrieve(body: Any, cfg: ServeConfig, *, packed: bool = False) -> RetrieveRequest:
    """Validate a ``/retrieve`` body (Search-R1's ``QueryRequest``, or one ``query``).

    ``packed``: the body came as MessagePack (GEM's one-query form answers unnested).

    Raises:
        RequestError: 400 for a body that is not an object, 422 naming a bad field.
    """
    if not isinstance(body, dict):
        raise RequestError(
            400, "invalid_body", "body", f"Expects a JSON object, actual: {type(body).__name__}"
        )
    single = "queries" not in body and isinstance(body.get("query"), str)
    queries = [body["query"]] if single else body.get("queries")
    form = "batch"
    if single and "top_k" in body and "topk" not in body:
        form = "rllm"
    elif single and packed:
        form = "flat"
    if not isinstance(queries, list):
        raise _invalid(
            "queries",
            "Expects queries to be a list of strings, actual: "
            + ("missing" if "queries" not in body else type(queries).__name__),
        )
    if len(queries) > MAX_QUERIES:
        raise _invalid("queries", f"Expects at most {MAX_QUERIES} queries, actual: {len(queries)}")
    for i, q in enumerate(queries):
        if not isinstance(q, str):
            raise _invalid(
                f"queries[{i}]", f"Expects queries[{i}] to be a string, actual: {type(q).__name__}"
            )
        if len(q) > cfg.max_query_chars:
            raise _invalid(
                f"queries[{i}]",
                f"Expects queries[{i}] to have at most {cfg.max_query_chars} characters, "
                f"actual: {len(q)}",
            )
    topk = body.get("topk", body.get("top_k"))
    if topk is None:
        topk = DEFAULT_TOPK
    elif not isinstance(topk, int) or isinstance(topk, bool) or not 1 <= topk <= cfg.max_k:
        raise _invalid(
            "topk", f"Expects topk to be null or an int in [1, {cfg.max_k}], actual: {topk!r}"
        )
    scores = body.get("return_scores", form == "rllm")
    if not isinstance(scores, bool):
        raise _invalid(
            "return_scores",
            f"Expects return_scores to be true or false, actual: {type(scores).__name__}",
        )
    return RetrieveRequest(tuple(scalar_text(q) for q in queries), topk, scores, form)


def to_row(hit: dict[str, Any], world: Any) -> dict[str, str]:
    """The Search-R1 row of one ``/search`` hit: the corpus row, or URL + title + snippet.

    Example:
        >>> to_row({"url": "https://x.org/a", "title": "A", "snippet": "b c"}, world=None)
        {'id': 'https://x.org/a', 'contents': '"A"\\nb c'}
    """
    url = hit["url"]
    row_id = passage_id(url)
    if row_id is not None and world is not None:
        page = world.get_page(url)
        if page is not None:
            return {"id": row_id, "contents": join_contents(page.title, page.markdown)}
    return {"id": url, "contents": join_contents(hit.get("title", ""), hit.get("snippet", ""))}


def _answer(results: list[list[dict[str, Any]]], req: RetrieveRequest, world: Any) -> Any:
    out: list[Any] = []
    for hits in results:
        rows = [to_row(h, world) for h in hits]
        if req.return_scores:
            scored = zip(rows, hits, strict=True)
            out.append([{"document": r, "score": h["score"]} for r, h in scored])
        else:
            out.append(rows)
    return req.wrap(out)


def _is_msgpack(raw: bytes, content_type: str) -> bool:
    """A MessagePack map (what GEM sends), told from JSON by its first byte or content type.

    Example:
        >>> _is_msgpack(b"\\x83\\xa7queries", ""), _is_msgpack(b' {"queries": []}', "")
        (True, False)
    """
    if "msgpack" in content_type:
        return True
    return bool(raw) and (0x80 <= raw[0] <= 0x8F or raw[0] in (0xDE, 0xDF))


def _decode(raw: bytes, packed: bool) -> Any:
    if packed:
        msgpack = require("msgpack", extra="fast")
        try:
            return msgpack.unpackb(raw, raw=False, strict_map_key=False)
        except Exception as exc:  # noqa: BLE001 - msgpack raises several types on bad input
            raise RequestError(
                400, "malformed_msgpack", "body", f"Expects a MessagePack map, actual: {exc}"[:300]
            ) from None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(
            400, "malformed_json", "body", f"Expects a JSON body, actual: unparseable ({exc})"[:300]
        ) from None
    except RecursionError:
        raise RequestError(
            400, "malformed_json", "body", "Expects a JSON body, actual: nested too deeply"
        ) from None


async def _search(service: Any, queries: tuple[str, ...], k: int) -> tuple[int, bytes]:
    """One chunk through the /search path: cached at once, else via the micro-batcher."""
    sreq = SearchRequest(queries, k, (), True)
    if service.config.caches:
        loop = asyncio.get_running_loop()
        service.fast_inflight += 1
        try:
            done = await service._timed(
                loop.run_in_executor(service.fast_executor, service._search_cached, sreq)
            )
        finally:
            service.fast_inflight -= 1
        if done is not None:
            return done
    return await service._timed(service.batcher.submit(sreq))


def retrieve_endpoint(service: Any) -> Callable[[Any], Awaitable[Any]]:
    """The ``POST /retrieve`` handler of a :class:`~lite_world.serve.app.WorldService`."""

    async def retrieve(request: Any) -> Any:
        packed = False

        async def go() -> tuple[int, bytes]:
            nonlocal packed
            raw = await service.body(request)
            packed = _is_msgpack(raw, request.headers.get("content-type", ""))
            req = parse_retrieve(_decode(raw, packed), service.config, packed=packed)
            encode = require("msgpack", extra="fast").packb if packed else dumps
            if not req.queries:
                return 200, encode(req.wrap([]))
            service._admit()
            size = service.config.max_queries  # a trainer step's queries: /search-sized chunks
            chunks = [req.queries[i : i + size] for i in range(0, len(req.queries), size)]
            answers = await asyncio.gather(*(_search(service, c, req.topk) for c in chunks))
            results = []
            for status, body in answers:
                if status != 200:
                    return status, body
                results.extend(json.loads(body)["results"])
            return 200, encode(_answer(results, req, service.backend.world))

        response = await service._run("/retrieve", request, go)
        if packed and response.status_code == 200:
            response.headers["content-type"] = MSGPACK
        return response

    return retrieve
