"""LLM judge of semantic answer equivalence, with an exact-match fallback.

:class:`LLMJudge` asks an OpenAI-compatible chat endpoint (vLLM, SGLang, a hosted API)
whether a predicted answer means the same as any reference answer, with the prompt of
:mod:`lite_world.reward.prompt`. When the endpoint cannot be reached, times out, returns
an HTTP error, or replies without a verdict, the judge falls back to normalised exact
match, so a training step never stalls on the judge. Verdicts are cached (LRU).

Only the standard library is used (``urllib.request`` and ``json``).

Example:
    >>> from lite_world.reward.judge import JudgeConfig, LLMJudge
    >>> judge = LLMJudge(JudgeConfig(base_url="http://127.0.0.1:9/v1", model="judge",
    ...                              timeout_s=0.5, max_retries=0))
    >>> judge.judge("Capital of France?", ["Paris"], "paris").source  # nothing listens on :9
    'em_fallback'
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from lite_world.cache import LRUCache
from lite_world.config import check_int
from lite_world.errors import ConfigError, ServiceError
from lite_world.reward.guards import check_answer
from lite_world.reward.normalize import Answers, answer_aliases, exact_match
from lite_world.reward.prompt import judge_messages, parse_verdict

__all__ = ["API_KEY_ENV", "JudgeConfig", "JudgeResult", "JudgeSource", "LLMJudge"]

logger = logging.getLogger(__name__)

API_KEY_ENV = "LITE_WORLD_JUDGE_API_KEY"
"""Environment variable read for :attr:`JudgeConfig.api_key` when none is given."""

JudgeSource = Literal["judge", "em_fallback", "guard", "cache"]

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_COUNTERS = ("calls", "cache_hits", "requests", "judged", "fallbacks", "guarded", "failures")


def _check_number(
    name: str, value: Any, low: float, *, strict: bool, integer: bool, how: str
) -> None:
    kinds = (int,) if integer else (int, float)
    ok = not isinstance(value, bool) and isinstance(value, kinds)
    ok = ok and (value > low if strict else value >= low)
    if not ok:
        what = ("an int" if integer else "a number") + (f" > {low}" if strict else f" >= {low}")
        raise ConfigError(f"Expects JudgeConfig.{name} to be {what}, actual: {value!r}. {how}")


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge model is served and how it is called.

    Example:
        >>> cfg = JudgeConfig(base_url="http://127.0.0.1:8000/v1", model="Qwen3-8B")
        >>> cfg.timeout_s, cfg.max_retries, cfg.temperature, cfg.max_tokens, cfg.cache_size
        (30.0, 1, 0.0, 512, 100000)
        >>> JudgeConfig(base_url="127.0.0.1:8000", model="m")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects JudgeConfig.base_url to be an http(s) URL ...
    """

    base_url: str = field(
        metadata={
            "help": "OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1; "
            "the judge POSTs to {base_url}/chat/completions."
        }
    )
    model: str = field(metadata={"help": "Model name sent in the request body."})
    api_key: str | None = field(
        default_factory=lambda: os.environ.get(API_KEY_ENV) or None,
        repr=False,
        metadata={"help": f"Bearer token; defaults to ${API_KEY_ENV}, none when unset."},
    )
    timeout_s: float = field(default=30.0, metadata={"help": "Socket timeout of a request (s)."})
    max_retries: int = field(
        default=1,
        metadata={"help": "Extra attempts after a timeout, refused connection, HTTP 429 or 5xx."},
    )
    retry_backoff_s: float = field(
        default=0.5, metadata={"help": "Sleep before retry i is retry_backoff_s * 2**i seconds."}
    )
    temperature: float = field(default=0.0, metadata={"help": "Sampling temperature, in [0, 2]."})
    max_tokens: int = field(default=512, metadata={"help": "Max tokens of the judge reply."})
    cache_size: int = field(
        default=100_000, metadata={"help": "Verdicts kept in the LRU cache; 0 disables it."}
    )
    max_answer_chars: int = field(
        default=200, metadata={"help": "Answer length cap of the reward-hacking guards."}
    )
    fallback_to_em: bool = field(
        default=True,
        metadata={"help": "On judge failure use exact match; if False the verdict is None."},
    )

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.base_url) if isinstance(self.base_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                "Expects JudgeConfig.base_url to be an http(s) URL of an OpenAI-compatible API, "
                f"actual: {self.base_url!r}. Pass e.g. base_url='http://127.0.0.1:8000/v1'."
            )
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError(
                f"Expects JudgeConfig.model to be a non-empty str, actual: {self.model!r}. "
                "Pass the model name the server serves, e.g. model='Qwen3-8B'."
            )
        if self.api_key is not None and not isinstance(self.api_key, str):
            raise ConfigError(
                "Expects JudgeConfig.api_key to be a str or None, "
                f"actual: {type(self.api_key).__name__}. Pass a string or set ${API_KEY_ENV}."
            )
        _check_number(
            "timeout_s",
            self.timeout_s,
            0,
            strict=True,
            integer=False,
            how="Pass e.g. timeout_s=30.",
        )
        _check_number(
            "max_retries",
            self.max_retries,
            0,
            strict=False,
            integer=True,
            how="Pass 0 to disable retries.",
        )
        _check_number(
            "retry_backoff_s",
            self.retry_backoff_s,
            0,
            strict=False,
            integer=False,
            how="Pass 0 to retry immediately.",
        )
        _check_number(
            "temperature",
            self.temperature,
            0,
            strict=False,
            integer=False,
            how="Use 0 for a deterministic judge.",
        )
        if self.temperature > 2:
            raise ConfigError(
                f"Expects JudgeConfig.temperature <= 2, actual: {self.temperature!r}. "
                "Use 0 for a deterministic judge."
            )
        _check_number(
            "max_tokens",
            self.max_tokens,
            1,
            strict=False,
            integer=True,
            how="Pass e.g. max_tokens=512.",
        )
        _check_number(
            "cache_size",
            self.cache_size,
            0,
            strict=False,
            integer=True,
            how="Pass 0 to disable the cache.",
        )
        _check_number(
            "max_answer_chars",
            self.max_answer_chars,
            1,
            strict=False,
            integer=True,
            how="Pass e.g. max_answer_chars=200.",
        )

    @property
    def endpoint(self) -> str:
        """The chat-completions URL.

        Example:
            >>> JudgeConfig(base_url="http://h:1/v1/", model="m").endpoint
            'http://h:1/v1/chat/completions'
        """
        root = self.base_url.rstrip("/")
        return root if root.endswith("/chat/completions") else f"{root}/chat/completions"


@dataclass(frozen=True)
class JudgeResult:
    """One verdict.

    Attributes:
        correct: The verdict; ``None`` only when the judge failed and
            :attr:`JudgeConfig.fallback_to_em` is False.
        source: ``"judge"`` (fresh verdict), ``"cache"`` (a cached judge verdict),
            ``"em_fallback"`` (the judge failed; exact match decided) or ``"guard"``
            (rejected by :func:`~lite_world.reward.guards.check_answer`; incorrect).
        raw: The judge's reply text, when there was one.
        reason: Why the judge was not used: a guard code, or ``"timeout"``,
            ``"unreachable"``, ``"http_<status>"``, ``"bad_response"``, ``"unparseable"``.
    """

    correct: bool | None
    source: JudgeSource
    raw: str | None = None
    reason: str | None = None


class _CallFailed(ServiceError):
    """One judge request failed; ``reason`` is the code reported in :class:`JudgeResult`."""

    def __init__(self, reason: str, detail: str, *, retryable: bool, raw: str | None = None):
        super().__init__(f"Expects a verdict from the judge, actual: {reason} ({detail})")
        self.reason = reason
        self.retryable = retryable
        self.raw = raw


class LLMJudge:
    """Judge answers with an OpenAI-compatible chat model; safe to share across threads.

    Args:
        config: Endpoint, model and call settings.

    Raises:
        ConfigError: If ``config`` is not a :class:`JudgeConfig`.

    Example:
        >>> judge = LLMJudge(JudgeConfig(base_url="http://127.0.0.1:9/v1", model="m",
        ...                              timeout_s=0.5, max_retries=0))
        >>> judge.judge("Q?", ["Paris"], "Paris or London")
        JudgeResult(correct=False, source='guard', raw=None, reason='multiple_candidates')
        >>> judge.stats()["guarded"]
        1
    """

    def __init__(self, config: JudgeConfig):
        if not isinstance(config, JudgeConfig):
            raise ConfigError(
                f"Expects a JudgeConfig, actual: {type(config).__name__}. "
                "Build one with JudgeConfig(base_url=..., model=...)."
            )
        self.config = config
        self._url = config.endpoint
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if config.api_key:
            self._headers["Authorization"] = f"Bearer {config.api_key}"
        host = urllib.parse.urlsplit(self._url).hostname or ""
        # A loopback judge never goes through an HTTP(S)_PROXY set in the environment.
        loopback = host in _LOOPBACK or host.startswith("127.")
        handlers = [urllib.request.ProxyHandler({})] if loopback else []
        self._opener = urllib.request.build_opener(*handlers)
        self._cache: LRUCache[JudgeResult] = LRUCache(config.cache_size)
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(_COUNTERS, 0)

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def stats(self) -> dict[str, int]:
        """Return a snapshot of the counters.

        Keys: ``calls`` (judged items), ``cache_hits``, ``requests`` (HTTP attempts),
        ``judged`` (fresh verdicts), ``fallbacks`` (exact-match fallbacks), ``guarded``
        (guard rejections), ``failures`` (failed items with no fallback), ``cache_size``.
        """
        with self._lock:
            out = dict(self._counts)
        out["cache_size"] = len(self._cache)
        return out

    def _post(self, payload: bytes) -> str:
        request = urllib.request.Request(self._url, data=payload, headers=self._headers)
        self._count("requests")
        try:
            with self._opener.open(request, timeout=self.config.timeout_s) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            retryable = exc.code >= 500 or exc.code == 429
            raise _CallFailed(f"http_{exc.code}", str(exc), retryable=retryable) from exc
        except urllib.error.URLError as exc:
            reason = "timeout" if isinstance(exc.reason, TimeoutError) else "unreachable"
            raise _CallFailed(reason, str(exc.reason), retryable=True) from exc
        except TimeoutError as exc:
            raise _CallFailed("timeout", str(exc), retryable=True) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _CallFailed("unreachable", repr(exc), retryable=True) from exc
        try:
            content = json.loads(body)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raw = body[:2000].decode("utf-8", "replace")
            raise _CallFailed("bad_response", repr(exc), retryable=False, raw=raw) from exc
        if not isinstance(content, str):
            raise _CallFailed("bad_response", f"content is {content!r}", retryable=False)
        return content

    def ask(self, question: str, references: Answers, prediction: str) -> tuple[bool, str]:
        """Ask the judge model (retrying transient errors); return ``(verdict, reply)``.

        The strict path: no guards, no cache, no fallback.

        Raises:
            ServiceError: If no verdict could be obtained.
        """
        payload = json.dumps(
            {
                "model": self.config.model,
                "messages": judge_messages(question, references, prediction),
                "temperature": self.config.temperature,
                "max_tokens": self.config.max_tokens,
            }
        ).encode("utf-8")
        attempt = 0
        while True:
            try:
                raw = self._post(payload)
                break
            except _CallFailed as exc:
                if not exc.retryable or attempt >= self.config.max_retries:
                    raise
                time.sleep(self.config.retry_backoff_s * 2**attempt)
                attempt += 1
        verdict = parse_verdict(raw)
        if verdict is None:
            raise _CallFailed("unparseable", f"reply {raw[:200]!r}", retryable=False, raw=raw)
        return verdict, raw

    def judge(
        self,
        question: str,
        references: Answers,
        prediction: str | None,
        *,
        guard: bool = True,
    ) -> JudgeResult:
        """Return whether ``prediction`` answers ``question`` like a reference does.

        Args:
            question: The question text.
            references: One reference answer or its aliases.
            prediction: The extracted final answer (stripped before use).
            guard: Apply :func:`~lite_world.reward.guards.check_answer` first; pass False
                when the caller already did. An empty answer is always rejected.

        Returns:
            A :class:`JudgeResult`; a failed judge call falls back to exact match.
        """
        self._count("calls")
        aliases = tuple(answer_aliases(references))
        prediction = prediction.strip() if prediction else ""
        reason = "no_answer" if not prediction else None
        if guard and reason is None:
            reason = check_answer(prediction, self.config.max_answer_chars, references=aliases)
        if reason is not None:
            self._count("guarded")
            return JudgeResult(correct=False, source="guard", reason=reason)
        key = (question, aliases, prediction)
        cached = self._cache.get(key)
        if cached is not None:
            self._count("cache_hits")
            return replace(cached, source="cache")
        try:
            verdict, raw = self.ask(question, aliases, prediction)
        except _CallFailed as exc:
            if not self.config.fallback_to_em:
                logger.warning("judge failed, no verdict: %s", exc)
                self._count("failures")
                return JudgeResult(None, "em_fallback", raw=exc.raw, reason=exc.reason)
            logger.warning("judge failed, using exact match: %s", exc)
            self._count("fallbacks")
            correct = exact_match(prediction, aliases) > 0
            return JudgeResult(correct, "em_fallback", raw=exc.raw, reason=exc.reason)
        self._count("judged")
        result = JudgeResult(correct=verdict, source="judge", raw=raw)
        self._cache.put(key, result)
        return result

    def judge_batch(
        self,
        items: Iterable[tuple[str, Answers, str | None]],
        max_workers: int = 8,
        *,
        guard: bool = True,
    ) -> list[JudgeResult]:
        """Judge ``(question, references, prediction)`` items on a thread pool, in order.

        Identical items are judged once; each repeat counts as a call and, when the
        first got a fresh verdict, as a cache hit with ``source="cache"``.

        Raises:
            ConfigError: If ``max_workers`` is not a positive int.

        Example:
            >>> judge = LLMJudge(JudgeConfig(base_url="http://127.0.0.1:9/v1", model="m",
            ...                              timeout_s=0.5, max_retries=0))
            >>> [r.reason for r in judge.judge_batch([("Q", "a", "unknown"), ("Q", "a", "")])]
            ['hedge', 'no_answer']
        """
        check_int("max_workers", max_workers, low=1)
        index: dict[Any, int] = {}
        unique: list[tuple[str, Answers, str | None]] = []
        slots: list[int] = []
        for question, references, prediction in items:
            key = (question, tuple(answer_aliases(references)), (prediction or "").strip())
            if key not in index:
                index[key] = len(unique)
                unique.append((question, references, prediction))
            slots.append(index[key])
        workers = min(max_workers, len(unique))
        if workers <= 1:
            results = [self.judge(q, r, p, guard=guard) for q, r, p in unique]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="lite-world-judge") as pool:
                results = list(pool.map(lambda it: self.judge(*it, guard=guard), unique))
        out: list[JudgeResult] = []
        seen: set[int] = set()
        for slot in slots:
            result = results[slot]
            if slot in seen:
                self._count("calls")
                if result.source == "judge":
                    self._count("cache_hits")
                    result = replace(result, source="cache")
            seen.add(slot)
            out.append(result)
        return out
