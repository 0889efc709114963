"""How the world service runs: one frozen dataclass, validated on construction.

Example:
    >>> ServeConfig().host, ServeConfig().port, ServeConfig().batching
    ('127.0.0.1', 8000, True)
    >>> ServeConfig(max_k=0)
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects max_k to be an int >= 1, actual: 0
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from lite_world.config import check_int
from lite_world.errors import ConfigError

__all__ = ["ServeConfig", "TOKEN_ENV"]

TOKEN_ENV = "LITE_WORLD_TOKEN"
_MODES = ("hybrid", "dense", "sparse")
_INT_MINIMUM = {
    "query_cache_size": 0,
    "result_cache_size": 0,
    "search_workers": 1,
    "browse_workers": 1,
    "torch_threads": 1,
    "batch_threads": 1,
    "max_batch_queries": 1,
    "encode_batch_size": 1,
    "max_body_bytes": 1024,
    "max_queries": 1,
    "max_query_chars": 1,
    "max_k": 1,
    "max_urls": 1,
    "max_url_chars": 16,
    "max_exclude": 0,
    "max_goal_chars": 1,
    "visit_max_chars": 100,
    "max_queue": 1,
    "retry_after_s": 1,
    "keep_alive_s": 1,
    "max_header_bytes": 1024,
    "max_connections": 1,
}
_POSITIVE_SECONDS = ("request_timeout_s", "header_timeout_s", "body_timeout_s")


@dataclass(frozen=True)
class ServeConfig:
    """Settings of ``lite-world serve``: network, auth, limits, batching, caches."""

    host: str = field(
        default="127.0.0.1",
        metadata={"help": "Bind address. Loopback by default; 0.0.0.0 exposes it."},
    )
    port: int = field(default=8000, metadata={"help": "TCP port (0: any free port)."})
    token: str | None = field(
        default=None,
        metadata={"help": f"Bearer token clients must send (default: ${TOKEN_ENV}, else no auth)."},
    )
    search_mode: str = field(
        default="hybrid", metadata={"help": "'hybrid', 'dense' or 'sparse' retrieval."}
    )
    batching: bool = field(
        default=True, metadata={"help": "Gather concurrent searches into one encoder + FAISS pass."}
    )
    max_batch_queries: int = field(
        default=64, metadata={"help": "Queries per micro-batch at most."}
    )
    encode_batch_size: int = field(
        default=16,
        metadata={
            "help": "Encoder sub-batch: a micro-batch's queries are sorted by length and encoded "
            "this many at a "
            "time in one call (less padding; 16 is best on CPU, 64-256 on a GPU)."
        },
    )
    max_wait_ms: float = field(
        default=2.0, metadata={"help": "How long a batch waits for more queries once started."}
    )
    caches: bool = field(
        default=True,
        metadata={
            "help": "Query-embedding, result-pool and snippet caches. "
            "Off: every request recomputes "
            "(batching then keeps just one batch's pools)."
        },
    )
    query_cache_size: int = field(default=100_000, metadata={"help": "Cached query embeddings."})
    result_cache_size: int = field(default=100_000, metadata={"help": "Cached candidate pools."})
    search_workers: int = field(
        default=2,
        metadata={
            "help": "Threads running micro-batches: with 2, one batch encodes while another "
            "searches the indexes and writes its answers (64 clients on 2 cores: 1.3x the "
            "requests/s of 1, benchmarks/bench_vs_searchr1.py --variants 'sw1,sw2'). A torch or "
            "sentence-transformers encoder serves one at a time."
        },
    )
    browse_workers: int = field(
        default=2, metadata={"help": "Threads summarising pages for /browse with a goal."}
    )
    torch_threads: int | None = field(
        default=1,
        metadata={
            "help": "Encoder threads for one sub-batch (torch intra-op, or the ONNX Runtime "
            "session's; 1 is stable under load and measured best for single queries; None: the "
            "libraries' defaults)."
        },
    )
    batch_threads: int = field(
        default=2,
        metadata={
            "help": "Threads encoding a micro-batch of more than one encoder sub-batch (onnx, "
            "openvino: sub-batches run at once, one thread each; torch: intra-op threads). Single "
            "queries keep torch_threads. 2 measured best on 2 cores "
            "(benchmarks/bench_vs_searchr1.py --variants)."
        },
    )
    device: str | None = field(
        default=None, metadata={"help": "Encoder device (default: CUDA when available)."}
    )
    max_body_bytes: int = field(
        default=1 << 20, metadata={"help": "Largest request body accepted (413 beyond)."}
    )
    max_queries: int = field(default=32, metadata={"help": "Queries per /search request at most."})
    max_query_chars: int = field(default=2000, metadata={"help": "Characters per query at most."})
    max_k: int = field(default=100, metadata={"help": "Largest k accepted."})
    max_urls: int = field(default=16, metadata={"help": "URLs per /browse request at most."})
    max_url_chars: int = field(default=4096, metadata={"help": "Characters per URL at most."})
    max_exclude: int = field(default=1000, metadata={"help": "URLs in an exclude list at most."})
    max_goal_chars: int = field(
        default=4000, metadata={"help": "Characters of a browse goal at most."}
    )
    visit_max_chars: int = field(
        default=3000, metadata={"help": "Evidence budget of the rendered /browse text."}
    )
    max_queue: int = field(
        default=2048,
        metadata={"help": "Requests waiting or running at most; beyond, 503 with Retry-After."},
    )
    retry_after_s: int = field(default=1, metadata={"help": "Retry-After sent with 503."})
    request_timeout_s: float = field(
        default=30.0, metadata={"help": "A request still unanswered then gets 504."}
    )
    keep_alive_s: int = field(
        default=30, metadata={"help": "Idle keep-alive connections are closed after this."}
    )
    header_timeout_s: float = field(
        default=10.0,
        metadata={
            "help": "A connection that has not sent a request's complete headers "
            "within this many seconds "
            "(after connecting or after its last answer) is closed."
        },
    )
    body_timeout_s: float = field(
        default=10.0,
        metadata={
            "help": "A request body not fully received this many seconds after its "
            "headers gets 408 and the "
            "connection is closed (stalled or truncated uploads)."
        },
    )
    max_header_bytes: int = field(
        default=16384,
        metadata={
            "help": "Request line plus headers at most (uvicorn's h11_max_incomplete_event_size)."
        },
    )
    max_connections: int = field(
        default=4096,
        metadata={
            "help": "Open connections or running requests at most "
            "(uvicorn's limit_concurrency); beyond, 503."
        },
    )
    warmup: bool = field(
        default=True, metadata={"help": "Load the index and encoder before accepting connections."}
    )

    def __post_init__(self) -> None:
        if self.token is None and os.environ.get(TOKEN_ENV):
            object.__setattr__(self, "token", os.environ[TOKEN_ENV])
        if self.token is not None and (
            not isinstance(self.token, str)
            or len(self.token) < 8
            or any(c.isspace() for c in self.token)
        ):
            raise ConfigError(
                "Expects token to be a string of >= 8 characters without spaces, actual: a "
                "shorter or spaced one"
            )
        if not isinstance(self.host, str) or not self.host:
            raise ConfigError(
                f"Expects host to be an address such as '127.0.0.1', actual: {self.host!r}"
            )
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigError(f"Expects port in [0, 65535], actual: {self.port!r}")
        if self.search_mode not in _MODES:
            raise ConfigError(f"Expects search_mode in {_MODES}, actual: {self.search_mode!r}")
        for f in fields(self):
            low = _INT_MINIMUM.get(f.name)
            v = getattr(self, f.name)
            if f.name == "torch_threads" and v is None:
                continue
            if low is not None:
                check_int(f.name, v, low=low)
        if not isinstance(self.max_wait_ms, (int, float)) or not 0 <= self.max_wait_ms <= 1000:
            raise ConfigError(f"Expects max_wait_ms in [0, 1000], actual: {self.max_wait_ms!r}")
        for name in _POSITIVE_SECONDS:
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v < float("inf"):
                raise ConfigError(f"Expects {name} to be a number of seconds > 0, actual: {v!r}")
        if self.max_batch_queries < self.max_queries:
            raise ConfigError(
                f"Expects max_batch_queries >= max_queries (one request fits in a batch), "
                f"actual: {self.max_batch_queries} < {self.max_queries}"
            )

    def replace(self, **changes: Any) -> ServeConfig:
        """A copy with ``changes`` applied (and validated)."""
        return ServeConfig(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})

    def public(self) -> dict[str, Any]:
        """The settings without the token (safe to log or serve)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["token"] = "set" if self.token else None
        return d
