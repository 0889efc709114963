"""The world service: HTTP handlers, auth, limits, admission control and metrics over a backend.

Routes: ``POST /search``, ``POST /browse``, ``GET /health`` (liveness without auth, details with
it), ``GET /metrics`` (Prometheus text), ``GET /manifest``, ``GET /openapi.json``. The same
:class:`WorldService` runs under uvicorn (:func:`create_app`, behind the
:class:`~lite_world.serve.guards.BodyGuard` deadline) and inside a Ray Serve replica
(:meth:`WorldService.handle`). Every 4xx and 5xx answer carries a JSON error body.

Example:
    >>> app = create_app("~/.cache/lite-world/demo-v1", ServeConfig())   # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hmac
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from lite_world._lazy import require
from lite_world.serve.backend import (
    BatchStats,
    BrowseRequest,
    SearchRequest,
    WorldBackend,
    dumps,
    error_body,
)
from lite_world.serve.batcher import MicroBatcher
from lite_world.serve.bodies import RequestError, parse_browse, parse_search
from lite_world.serve.config import ServeConfig
from lite_world.serve.guards import BodyGuard
from lite_world.serve.metrics import BATCH_BUCKETS, LATENCY_BUCKETS, Registry
from lite_world.serve.openapi import openapi_spec
from lite_world.serve.retrieve import retrieve_endpoint
from lite_world.version import __version__

__all__ = ["WorldService", "create_app"]

logger = logging.getLogger(__name__)

JSON = "application/json"
DISCONNECTED = (
    499  # the status nginx logs for a client that left; never sent (nobody is there to read it)
)
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


class WorldService:
    """Everything a server process holds for one world.

    Args:
        world: a world directory, or an opened :class:`WorldBackend`.
        config: a :class:`ServeConfig`.
    """

    def __init__(
        self, world: str | os.PathLike[str] | WorldBackend, config: ServeConfig | None = None
    ):
        self.config = cfg = config or ServeConfig()
        self.backend = world if isinstance(world, WorldBackend) else WorldBackend(world, cfg)
        self.batcher: MicroBatcher[SearchRequest, tuple[int, bytes]] = MicroBatcher(
            self._process_search,
            max_size=cfg.max_batch_queries,
            max_wait_s=cfg.max_wait_ms / 1000.0 if cfg.batching else 0.0,
            max_items=None if cfg.batching else 1,
            size_of=lambda r: len(r.queries),
            workers=cfg.search_workers,
        )
        self.browse_executor = concurrent.futures.ThreadPoolExecutor(
            cfg.browse_workers, thread_name_prefix="lw-browse"
        )
        # cache hits skip the batch queue: they need no encoder pass, so they never wait behind one
        self.fast_executor = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="lw-cached"
        )
        self.browse_inflight = self.fast_inflight = 0
        self.started_at = time.time()
        self.ready = False
        self._max_batch = 0
        self._init_metrics()
        self.routes: dict[tuple[str, str], Callable[[Any], Awaitable[Any]]] = {
            ("POST", "/search"): self.search,
            ("POST", "/browse"): self.browse,
            ("GET", "/health"): self.health,
            ("GET", "/metrics"): self.metrics,
            ("GET", "/manifest"): self.manifest,
            ("GET", "/openapi.json"): self.openapi,
            ("POST", "/retrieve"): retrieve_endpoint(self),  # Search-R1's protocol
        }
        self._paths = {path for _, path in self.routes}
        try:
            self._client_disconnect: type[BaseException] = require(
                "starlette.requests", extra="serve"
            ).ClientDisconnect
        except ImportError:  # the service can still be built (and tested) without starlette
            self._client_disconnect = type("ClientDisconnect", (Exception,), {})

    # -- metrics ----------------------------------------------------------------
    def _init_metrics(self) -> None:
        r = self.registry = Registry()
        self.m_requests = r.counter(
            "lite_world_requests_total", "HTTP requests answered.", ("endpoint", "code")
        )
        self.m_errors = r.counter(
            "lite_world_request_errors_total",
            "Requests answered with a 4xx/5xx status.",
            ("endpoint", "code"),
        )
        self.m_latency = r.histogram(
            "lite_world_request_seconds",
            "Request latency in the server.",
            ("endpoint",),
            LATENCY_BUCKETS,
        )
        self.m_rejected = r.counter(
            "lite_world_rejected_total", "Requests refused with 503 because the queue was full."
        )
        self.m_disconnects = r.counter(
            "lite_world_client_disconnects_total",
            "Clients that disconnected before their answer (not errors).",
            ("endpoint",),
        )
        self.m_batch_requests = r.histogram(
            "lite_world_search_batch_requests",
            "Requests per search micro-batch.",
            buckets=BATCH_BUCKETS,
        )
        self.m_batch_queries = r.histogram(
            "lite_world_search_batch_queries",
            "Queries per search micro-batch.",
            buckets=BATCH_BUCKETS,
        )
        self.m_batch_seconds = r.histogram(
            "lite_world_search_batch_seconds",
            "Time to process one micro-batch.",
            buckets=LATENCY_BUCKETS,
        )
        r.gauge(
            "lite_world_search_batch_queries_max",
            "Largest micro-batch so far (queries).",
            fn=lambda: self._max_batch,
        )
        self.m_queries = r.counter("lite_world_search_queries_total", "Queries searched.")
        self.m_fast = r.counter(
            "lite_world_search_cached_requests_total",
            "Search requests answered entirely from the caches, without joining a batch.",
        )
        self.m_pool = r.counter(
            "lite_world_search_pool_lookups_total",
            "Distinct queries per batch, by candidate-pool cache outcome.",
            ("result",),
        )
        r.gauge(
            "lite_world_search_cache_hit_rate",
            "Share of distinct batch queries answered from the pool cache.",
            fn=self._pool_hit_rate,
        )
        self.m_cache_size = r.gauge(
            "lite_world_cache_entries", "Entries in each cache.", ("cache",)
        )
        self.m_cache_rate = r.gauge(
            "lite_world_cache_lookup_hit_rate",
            "Hit rate of each LRU cache (all lookups).",
            ("cache",),
        )
        self.m_cache_bytes = r.gauge(
            "lite_world_cache_bytes",
            "Bytes held by each cache (when the world reports them).",
            ("cache",),
        )
        self.m_cache_max_bytes = r.gauge(
            "lite_world_cache_max_bytes",
            "Byte bound of each cache (when the world reports it).",
            ("cache",),
        )
        r.gauge(
            "lite_world_queue_depth",
            "Requests waiting or in progress (search batches, cached searches, browse).",
            fn=lambda: self.batcher.depth + self.fast_inflight + self.browse_inflight,
        )
        r.gauge(
            "lite_world_browse_inflight",
            "Browse requests in progress.",
            fn=lambda: self.browse_inflight,
        )
        r.gauge(
            "lite_world_pages", "Pages in the served world.", fn=lambda: len(self.backend.world)
        )
        r.gauge(
            "lite_world_start_time_seconds",
            "Unix time the server started.",
            fn=lambda: self.started_at,
        )

    def endpoint(self, path: str) -> str:
        """The metrics label of ``path``: a route, else ``other`` (few labels under fuzzing)."""
        return path if path in self._paths else "other"

    def record(self, endpoint: str, status: int) -> None:
        """Count one answer (also the ones the :class:`BodyGuard` sends before a handler runs)."""
        code = str(status)
        self.m_requests.inc(endpoint=endpoint, code=code)
        if status >= 400:
            self.m_errors.inc(endpoint=endpoint, code=code)

    def client_disconnected(self, endpoint: str) -> None:
        """Count a client that left before its answer; logged at DEBUG, never as an error."""
        self.m_disconnects.inc(endpoint=self.endpoint(endpoint))
        logger.debug("%s: client disconnected before the answer", endpoint)

    def _pool_hit_rate(self) -> float:
        hits, misses = self.m_pool.value(result="hit"), self.m_pool.value(result="miss")
        return hits / (hits + misses) if hits + misses else 0.0

    def _process_search(self, reqs: list[SearchRequest]) -> list[tuple[int, bytes]]:
        stats = BatchStats()
        out = self.backend.search_batch(reqs, stats)
        self.m_batch_requests.observe(stats.requests)
        self.m_batch_queries.observe(stats.queries)
        self.m_batch_seconds.observe(stats.seconds)
        self._max_batch = max(self._max_batch, stats.queries)
        self.m_queries.inc(stats.queries)
        self.m_pool.inc(stats.distinct - stats.computed, result="hit")
        self.m_pool.inc(stats.computed, result="miss")
        return out

    def _search_cached(self, req: SearchRequest) -> tuple[int, bytes] | None:
        """Answer ``req`` now if all its queries are cached; ``None`` sends it to the batcher."""
        if not self.backend.cached(req):
            return None
        stats = BatchStats()
        status, body = self.backend.search_batch([req], stats)[0]
        self.m_fast.inc()
        self.m_queries.inc(stats.queries)
        self.m_pool.inc(stats.distinct - stats.computed, result="hit")
        self.m_pool.inc(stats.computed, result="miss")
        return status, body

    # -- lifecycle --------------------------------------------------------------
    async def startup(self) -> None:
        if self.config.warmup:
            loop = asyncio.get_running_loop()
            seconds = await loop.run_in_executor(self.batcher.executor, self.backend.warmup)
            logger.info("world %s ready in %.1f s", self.backend.world.path, seconds)
        self.ready = True

    async def shutdown(self) -> None:
        self.ready = False
        await self.batcher.close()
        self.browse_executor.shutdown(wait=False, cancel_futures=True)
        self.fast_executor.shutdown(wait=False, cancel_futures=True)
        self.backend.close()

    # -- request plumbing -------------------------------------------------------
    def _auth(self, request: Any) -> None:
        token = self.config.token
        if token is None:
            return
        got = request.headers.get("authorization", "")
        scheme, _, value = got.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            raise RequestError(
                401,
                "unauthorized",
                "authorization",
                "Expects the header 'Authorization: Bearer <token>' with the server's token, "
                "actual: " + ("missing" if not got else "a wrong token"),
                {"WWW-Authenticate": "Bearer"},
            )

    async def body(self, request: Any) -> bytes:
        """The request body within ``max_body_bytes`` (413 beyond it, 400 for a bad length)."""
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise RequestError(
                    400,
                    "invalid_header",
                    "content-length",
                    f"Expects a byte count, actual: {declared[:40]!r}",
                )
            if len(declared) > 18 or int(declared) > limit:
                raise RequestError(
                    413,
                    "body_too_large",
                    "body",
                    f"Expects a body of at most {limit} bytes, actual: {declared}",
                    {"Connection": "close"},
                )
        chunks, total = [], 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise RequestError(
                    413,
                    "body_too_large",
                    "body",
                    f"Expects a body of at most {limit} bytes, actual: more",
                    {"Connection": "close"},
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def _json(self, request: Any) -> Any:
        raw = await self.body(request)
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestError(
                400,
                "malformed_json",
                "body",
                f"Expects a JSON body, actual: unparseable ({exc})"[:300],
            ) from None
        except RecursionError:
            raise RequestError(
                400,
                "malformed_json",
                "body",
                "Expects a JSON body nested a few levels deep, actual: nested too deeply to parse",
            ) from None

    def _admit(self) -> None:
        if self.batcher.depth + self.browse_inflight + self.fast_inflight >= self.config.max_queue:
            self.m_rejected.inc()
            raise RequestError(
                503,
                "overloaded",
                None,
                f"Expects at most {self.config.max_queue} requests in the queue, actual: full; "
                "retry later",
                {"Retry-After": str(self.config.retry_after_s)},
            )

    async def _timed(self, coro: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(coro, self.config.request_timeout_s)
        except TimeoutError:
            raise RequestError(
                504,
                "timeout",
                None,
                f"Expects an answer within {self.config.request_timeout_s} s, actual: none yet",
            ) from None

    def _respond(
        self,
        endpoint: str,
        status: int,
        body: bytes,
        t0: float,
        media_type: str = JSON,
        headers: dict[str, str] | None = None,
    ) -> Any:
        Response = require("starlette.responses", extra="serve").Response
        self.record(endpoint, status)
        self.m_latency.observe(time.perf_counter() - t0, endpoint=endpoint)
        return Response(body, status_code=status, media_type=media_type, headers=headers)

    async def _run(
        self,
        endpoint: str,
        request: Any,
        fn: Callable[[], Awaitable[tuple[int, bytes]]],
        *,
        auth: bool = True,
    ) -> Any:
        t0 = time.perf_counter()
        try:
            if auth:
                self._auth(request)
            status, body = await fn()
            return self._respond(endpoint, status, body, t0)
        except RequestError as e:
            return self._respond(endpoint, e.status, e.body(), t0, headers=e.headers)
        except self._client_disconnect:
            self.client_disconnected(endpoint)
            Response = require("starlette.responses", extra="serve").Response
            return Response(
                error_body(
                    "client_disconnected",
                    None,
                    "Expects the client to wait for the answer, actual: it disconnected",
                ),
                status_code=DISCONNECTED,
                media_type=JSON,
            )
        except Exception as exc:  # noqa: BLE001 - the client gets JSON, the log gets the trace
            logger.exception("%s failed", endpoint)
            return self._respond(
                endpoint,
                500,
                error_body("internal", None, f"{type(exc).__name__}: {exc}"[:500]),
                t0,
            )

    # -- endpoints --------------------------------------------------------------
    async def search(self, request: Any) -> Any:
        async def go() -> tuple[int, bytes]:
            req = parse_search(await self._json(request), self.config)
            self._admit()
            if self.config.caches and req.queries:
                self.fast_inflight += 1
                try:
                    loop = asyncio.get_running_loop()
                    done = await self._timed(
                        loop.run_in_executor(self.fast_executor, self._search_cached, req)
                    )
                finally:
                    self.fast_inflight -= 1
                if done is not None:
                    return done
            return await self._timed(self.batcher.submit(req))

        return await self._run("/search", request, go)

    async def browse(self, request: Any) -> Any:
        async def go() -> tuple[int, bytes]:
            req: BrowseRequest = parse_browse(await self._json(request), self.config)
            self._admit()
            self.browse_inflight += 1
            try:
                if req.goal is None:  # a few LMDB reads: cheaper than a thread hop
                    return 200, self.backend.browse(req)
                loop = asyncio.get_running_loop()
                return 200, await self._timed(
                    loop.run_in_executor(self.browse_executor, self.backend.browse, req)
                )
            finally:
                self.browse_inflight -= 1

        return await self._run("/browse", request, go)

    async def health(self, request: Any) -> Any:
        """Liveness for anyone (``{"status"}``); details (pid, limits) only with the token."""

        async def go() -> tuple[int, bytes]:
            c = self.config
            status = 200 if self.ready else 503
            body: dict[str, Any] = {"status": "ok" if self.ready else "starting"}
            try:
                self._auth(request)
            except RequestError:
                return status, dumps(body)
            body.update(
                {
                    "version": __version__,
                    "pages": len(self.backend.world),
                    "pid": os.getpid(),
                    "search_mode": c.search_mode,
                    "batching": c.batching,
                    "caches": c.caches,
                    "auth": c.token is not None,
                    "limits": {
                        "max_queries": c.max_queries,
                        "max_k": c.max_k,
                        "max_urls": c.max_urls,
                        "max_exclude": c.max_exclude,
                        "max_url_chars": c.max_url_chars,
                        "max_query_chars": c.max_query_chars,
                        "max_goal_chars": c.max_goal_chars,
                        "max_body_bytes": c.max_body_bytes,
                        "max_header_bytes": c.max_header_bytes,
                        "body_timeout_s": c.body_timeout_s,
                        "header_timeout_s": c.header_timeout_s,
                        "request_timeout_s": c.request_timeout_s,
                    },
                }
            )
            return status, dumps(body)

        return await self._run("/health", request, go, auth=False)

    async def manifest(self, request: Any) -> Any:
        async def go() -> tuple[int, bytes]:
            return 200, self.backend.manifest_json

        return await self._run("/manifest", request, go)

    async def openapi(self, request: Any) -> Any:
        """The OpenAPI 3.1 description of this service, with this server's limits."""

        async def go() -> tuple[int, bytes]:
            return 200, dumps(openapi_spec(self.config))

        return await self._run("/openapi.json", request, go)

    async def metrics(self, request: Any) -> Any:
        t0 = time.perf_counter()
        try:
            self._auth(request)
        except RequestError as e:
            return self._respond("/metrics", e.status, e.body(), t0, headers=e.headers)
        for name, s in self.backend.cache_stats().items():
            self.m_cache_size.set(s["size"], cache=name)
            self.m_cache_rate.set(s["hit_rate"], cache=name)
        for name, (held, bound) in _cache_bytes(self.backend.world).items():
            self.m_cache_bytes.set(held, cache=name)
            if bound is not None:
                self.m_cache_max_bytes.set(bound, cache=name)
        return self._respond(
            "/metrics", 200, self.registry.render().encode(), t0, media_type=PROMETHEUS
        )

    async def handle(self, request: Any) -> Any:
        """Route one starlette ``Request`` (used by the Ray Serve replica)."""
        fn = self.routes.get((request.method, request.url.path.rstrip("/") or "/"))
        if fn is None:
            Response = require("starlette.responses", extra="serve").Response
            known = request.url.path.rstrip("/") in self._paths
            status = 405 if known else 404
            self.record("other" if not known else request.url.path.rstrip("/"), status)
            return Response(
                error_body(
                    "method_not_allowed" if known else "not_found",
                    None,
                    f"Expects one of {sorted({f'{m} {p}' for m, p in self.routes})}, "
                    f"actual: {request.method} {request.url.path}"[:600],
                ),
                status_code=status,
                media_type=JSON,
            )
        return await fn(request)


def _cache_bytes(world: Any) -> dict[str, tuple[float, float | None]]:
    """``{cache: (bytes held, byte bound or None)}`` from ``cache_info()`` or ``cache_stats()``."""
    out: dict[str, tuple[float, float | None]] = {}
    for source in ("cache_info", "cache_stats"):
        fn = getattr(world, source, None)
        try:
            info = fn() if callable(fn) else None
        except Exception:  # noqa: BLE001 - metrics never fail a scrape
            logger.debug("%s() failed", source, exc_info=True)
            continue
        for name, s in (info or {}).items() if isinstance(info, dict) else ():
            get = s.get if isinstance(s, dict) else lambda key, s=s: getattr(s, key, None)
            held = get("bytes")
            if name not in out and isinstance(held, (int, float)) and not isinstance(held, bool):
                bound = get("max_bytes")
                out[name] = (
                    held,
                    bound
                    if isinstance(bound, (int, float)) and not isinstance(bound, bool)
                    else None,
                )
    return out


def create_app(
    world: str | os.PathLike[str] | WorldBackend | WorldService, config: ServeConfig | None = None
) -> Any:
    """A Starlette ASGI app serving ``world`` (starts the batcher and warms up in its lifespan)."""
    applications = require("starlette.applications", extra="serve")
    routing = require("starlette.routing", extra="serve")
    service = world if isinstance(world, WorldService) else WorldService(world, config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await service.startup()
        try:
            yield
        finally:
            await service.shutdown()

    async def not_found(request: Any, exc: Exception) -> Any:
        return await service.handle(request)

    async def http_error(
        request: Any, exc: Any
    ) -> Any:  # any other HTTPException: the same JSON errors
        status = int(getattr(exc, "status_code", 400))
        service.record(service.endpoint(request.url.path), status)
        Response = require("starlette.responses", extra="serve").Response
        return Response(
            error_body(
                "bad_request" if status < 500 else "internal",
                None,
                f"Expects a valid request, actual: {getattr(exc, 'detail', exc)}"[:300],
            ),
            status_code=status,
            media_type=JSON,
            headers=getattr(exc, "headers", None),
        )

    exceptions = require("starlette.exceptions", extra="serve")
    middleware = require("starlette.middleware", extra="serve")
    cfg = service.config
    guard = middleware.Middleware(
        BodyGuard,
        max_body_bytes=cfg.max_body_bytes,
        body_timeout_s=cfg.body_timeout_s,
        max_header_bytes=cfg.max_header_bytes,
        on_refused=lambda path, status: service.record(service.endpoint(path), status),
        on_disconnect=service.client_disconnected,
    )
    routes = [
        routing.Route(path, fn, methods=[method]) for (method, path), fn in service.routes.items()
    ]
    app = applications.Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[guard],
        exception_handlers={404: not_found, 405: not_found, exceptions.HTTPException: http_error},
    )
    app.state.service = service
    return app
