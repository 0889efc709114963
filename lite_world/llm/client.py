"""One small LLM client for every synthesis step: cache, concurrency, accounting, no crashes.

:class:`LLMClient` sends batches of chat conversations to a backend (an OpenAI-compatible
endpoint or transformers in-process), looks every request up in a disk cache first (keyed by
model, messages and sampling params, so re-runs are free), runs requests on a thread pool,
and accounts tokens, seconds and cost. A request that fails after the backend's retries comes
back as an :class:`LLMReply` with ``error`` set and empty text: callers count it as a drop,
nothing raises.

Example:
    >>> class Echo:
    ...     model, batch_size = "echo", 2
    ...     def generate(self, batch, *, max_tokens, temperature):
    ...         return [{"text": m[-1]["content"][::-1], "prompt_tokens": 3, "completion_tokens": 2}
    ...                 for m in batch]
    >>> client = LLMClient(Echo(), LLMConfig(cache=False, show_progress=False))
    >>> [r.text for r in client.chat([[{"role": "user", "content": "abc"}]] * 3)]
    ['cba', 'cba', 'cba']
    >>> client.usage.requests, client.usage.completion_tokens
    (3, 6)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lite_world.config import ConfigMixin
from lite_world.errors import ConfigError, LiteWorldError
from lite_world.llm.backends import Backend, OpenAIBackend, TransformersBackend
from lite_world.llm.cache import RequestCache, request_key
from lite_world.llm.jsonx import extract_json

__all__ = ["LLMConfig", "LLMReply", "LLMUsage", "LLMClient", "make_client", "default_cache_path"]

logger = logging.getLogger(__name__)

Messages = Sequence[Mapping[str, Any]]


def default_cache_path() -> Path:
    """``$LITE_WORLD_CACHE/llm-cache.sqlite`` (default ``~/.cache/lite-world/llm-cache.sqlite``)."""
    from lite_world.demo import cache_dir

    return cache_dir() / "llm-cache.sqlite"


@dataclass(frozen=True)
class LLMConfig(ConfigMixin):
    """Which model to call and how.

    Example:
        >>> LLMConfig().model, LLMConfig(base_url="http://h:8000/v1", model="qwen").model
        ('smollm2', 'qwen')
        >>> LLMConfig(concurrency=0)
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects LLMConfig.concurrency >= 1, actual: 0
    """

    model: str = field(
        default="smollm2",
        metadata={"help": "Model name: 'smollm2' (in-process) or the served name."},
    )
    base_url: str | None = field(
        default=None,
        metadata={"help": "OpenAI-compatible API root (…/v1); None runs the model in-process."},
    )
    api_key_env: str = field(
        default="OPENAI_API_KEY", metadata={"help": "Environment variable holding the API key."}
    )
    max_tokens: int = field(default=256, metadata={"help": "Completion tokens per request."})
    temperature: float = field(default=0.0, metadata={"help": "Sampling temperature (0: greedy)."})
    concurrency: int = field(default=8, metadata={"help": "Requests in flight at once (threads)."})
    batch_size: int = field(
        default=4, metadata={"help": "Conversations per generate call (in-process only)."}
    )
    retries: int = field(
        default=2, metadata={"help": "Retries per request (connection errors, 429, 5xx)."}
    )
    backoff_s: float = field(
        default=0.5, metadata={"help": "First retry delay; doubled each retry."}
    )
    timeout_s: float = field(default=120.0, metadata={"help": "Seconds per request."})
    cache: bool = field(default=True, metadata={"help": "Use the on-disk request cache."})
    cache_path: str | None = field(
        default=None, metadata={"help": "SQLite cache file (None: the default cache)."}
    )
    price_prompt_per_m: float = field(
        default=0.0, metadata={"help": "USD per 1M prompt tokens (cost accounting)."}
    )
    price_completion_per_m: float = field(
        default=0.0, metadata={"help": "USD per 1M completion tokens."}
    )
    show_progress: bool = field(default=True, metadata={"help": "Show a progress bar per batch."})

    def __post_init__(self) -> None:
        for name in ("max_tokens", "concurrency", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"Expects LLMConfig.{name} >= 1, actual: {getattr(self, name)}")
        if self.temperature < 0 or self.retries < 0 or self.backoff_s < 0 or self.timeout_s <= 0:
            raise ConfigError(
                "Expects temperature >= 0, retries >= 0, backoff_s >= 0 and timeout_s > 0, actual: "
                f"{self.temperature}, {self.retries}, {self.backoff_s}, {self.timeout_s}"
            )
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"Expects base_url to start with http(s)://, actual: {self.base_url!r}"
            )


@dataclass(frozen=True)
class LLMReply:
    """One completion (``error`` is set and ``text`` empty when the request failed)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cached: bool = False
    error: str | None = None

    def json(self, want: type | None = None) -> Any:
        """The JSON value in the text (:func:`~lite_world.llm.jsonx.extract_json`), or ``None``."""
        return extract_json(self.text, want)


@dataclass
class LLMUsage:
    """Totals over a client's lifetime (cache hits cost no tokens and no time)."""

    requests: int = 0
    cache_hits: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cost_usd: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in self.__dict__.items()}


class LLMClient:
    """Cached, concurrent, accounted chat completions over any :class:`Backend`."""

    def __init__(self, backend: Backend, config: LLMConfig | None = None) -> None:
        self.backend = backend
        self.config = config or LLMConfig()
        self.usage = LLMUsage()
        self._lock = threading.Lock()
        self._cache: RequestCache | None = None
        if self.config.cache:
            self._cache = RequestCache(self.config.cache_path or default_cache_path())

    @property
    def model(self) -> str:
        return str(self.backend.model)

    def _params(self, max_tokens: int, temperature: float) -> dict[str, Any]:
        return {"max_tokens": max_tokens, "temperature": temperature}

    def chat(
        self,
        conversations: Sequence[Messages],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        desc: str = "llm",
    ) -> list[LLMReply]:
        """One reply per conversation, in order; failures come back with ``error`` set."""
        mt = self.config.max_tokens if max_tokens is None else int(max_tokens)
        temp = self.config.temperature if temperature is None else float(temperature)
        params = self._params(mt, temp)
        keys = [request_key(self.model, c, params) for c in conversations]
        out: list[LLMReply | None] = [None] * len(conversations)
        todo: list[int] = []
        for i, key in enumerate(keys):
            hit = self._cache.get(key) if self._cache is not None else None
            if hit is not None:
                out[i] = LLMReply(
                    hit["text"], hit["prompt_tokens"], hit["completion_tokens"], 0.0, True
                )
            else:
                todo.append(i)
        with self._lock:
            self.usage.requests += len(conversations)
            self.usage.cache_hits += len(conversations) - len(todo)
        bs = max(1, int(getattr(self.backend, "batch_size", 1)))
        chunks = [todo[j : j + bs] for j in range(0, len(todo), bs)]
        bar = tqdm(
            total=len(todo),
            desc=desc,
            unit="req",
            disable=not self.config.show_progress or not todo,
        )

        def run(chunk: list[int]) -> None:
            t0 = time.perf_counter()
            try:
                raws = self.backend.generate(
                    [conversations[i] for i in chunk], max_tokens=mt, temperature=temp
                )
                if len(raws) != len(chunk):
                    raise ConfigError(
                        f"Expects {len(chunk)} replies from the backend, actual: {len(raws)}"
                    )
            except (LiteWorldError, OSError, ValueError, RuntimeError) as exc:
                dt = time.perf_counter() - t0
                logger.warning("LLM request failed: %s", exc)
                for i in chunk:
                    out[i] = LLMReply(
                        "", 0, 0, dt / len(chunk), False, f"{type(exc).__name__}: {exc}"
                    )
                with self._lock:
                    self.usage.errors += len(chunk)
                    self.usage.seconds += dt
                bar.update(len(chunk))
                return
            dt = time.perf_counter() - t0
            for i, raw in zip(chunk, raws, strict=True):
                rep = LLMReply(
                    str(raw.get("text") or ""),
                    int(raw.get("prompt_tokens") or 0),
                    int(raw.get("completion_tokens") or 0),
                    dt / len(chunk),
                    False,
                )
                out[i] = rep
                if self._cache is not None:
                    self._cache.put(
                        keys[i],
                        {
                            "text": rep.text,
                            "prompt_tokens": rep.prompt_tokens,
                            "completion_tokens": rep.completion_tokens,
                        },
                    )
            with self._lock:
                self.usage.seconds += dt
                for i in chunk:
                    r = out[i]
                    assert r is not None
                    self.usage.prompt_tokens += r.prompt_tokens
                    self.usage.completion_tokens += r.completion_tokens
                    self.usage.cost_usd += (
                        r.prompt_tokens * self.config.price_prompt_per_m
                        + r.completion_tokens * self.config.price_completion_per_m
                    ) / 1e6
            bar.update(len(chunk))

        try:
            if self.config.concurrency == 1 or len(chunks) <= 1:
                for c in chunks:
                    run(c)
            else:
                with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
                    list(pool.map(run, chunks))
        finally:
            bar.close()
        return [r if r is not None else LLMReply("", error="missing") for r in out]

    def chat_one(self, messages: Messages, **kwargs: Any) -> LLMReply:
        """:meth:`chat` for a single conversation."""
        return self.chat([messages], **kwargs)[0]

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()


def make_client(config: LLMConfig | None = None, *, backend: Backend | None = None) -> LLMClient:
    """A client for ``config``: an :class:`OpenAIBackend` when ``base_url`` is set, else
    :class:`TransformersBackend` (``model`` ``'smollm2'`` or a local model directory).

    Example:
        >>> c = make_client(LLMConfig(base_url="http://127.0.0.1:9/v1", model="m", cache=False))
        >>> type(c.backend).__name__, c.model
        ('OpenAIBackend', 'm')
    """
    config = config or LLMConfig()
    if backend is None:
        if config.base_url:
            backend = OpenAIBackend(
                config.base_url,
                config.model,
                api_key=os.environ.get(config.api_key_env) or None,
                timeout_s=config.timeout_s,
                retries=config.retries,
                backoff_s=config.backoff_s,
            )
        else:
            backend = TransformersBackend(config.model, batch_size=config.batch_size)
    return LLMClient(backend, config)
