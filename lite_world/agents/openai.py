"""An LLM agent that calls an OpenAI-compatible chat-completions endpoint (stdlib only).

Works with vLLM, SGLang, the OpenAI API and ``python -m lite_world.agents.openai_server``.
By default the only stop strings are a hallucinated ``<tool_response>`` (the env's
``info["stop"]``): the server ends the turn at the model's end-of-turn token, as it is served
(see :mod:`lite_world.agents.turns`). OpenAI servers strip the stop string from the returned
text; when a caller stops at a closing tag (``</tool_call>``, ``</answer>``) of its own, this
agent re-appends it so the env can parse the action. The matched
stop string is read from the choice's ``stop_reason`` (vLLM) or ``matched_stop`` (SGLang);
when the server reports neither, a closing tag whose opening tag is left unclosed is assumed.

Example:
    >>> from lite_world.agents.openai import restore_stop
    >>> restore_stop('<tool_call>{"name": "search"}', "stop", {}, ("</tool_call>", "</answer>"))
    ('<tool_call>{"name": "search"}', '</tool_call>')
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lite_world.agents.base import (
    ChatAgent,
    Completion,
    GenerationConfig,
    is_closing_tag,
    truncate_at_stop,
)
from lite_world.errors import ConfigError, ServiceError
from lite_world.http_json import post_json

__all__ = ["OpenAIAgent", "restore_stop"]

logger = logging.getLogger(__name__)

Message = Mapping[str, Any]

_MISSING = object()


class OpenAIAgent(ChatAgent):
    """Generates assistant turns by POSTing to ``{base_url}/chat/completions``.

    Args:
        base_url: The API root, e.g. ``"http://127.0.0.1:8000/v1"``.
        model: The served model name sent as ``model``.
        api_key: Sent as ``Authorization: Bearer <api_key>`` when given.
        config: Sampling settings, default ``GenerationConfig()`` (``max_new_tokens`` is sent as
            ``max_tokens``);
            ``info["stop"]`` from the env overrides the stop strings.
        timeout_s: Seconds to wait for one response.
        max_retries: Retries after a connection error, a timeout, HTTP 429 or HTTP 5xx; other
            HTTP errors fail at once.
        backoff_s: Sleep before the first retry; doubled before each next one.
        max_concurrency: Requests in flight at once in :meth:`complete_batch`.

    Each request of a batch is sent with ``seed = config.seed + its index``. ``self.usage``
    adds up the server's ``usage`` counts.

    Raises:
        ServiceError: (from ``act``) the server could not be reached or kept failing; the
            message names the URL, the HTTP status and the start of the response body.

    Example:
        >>> agent = OpenAIAgent("http://127.0.0.1:9/v1", "m", max_retries=0)
        >>> agent.act("Hi", {})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lite_world.errors.ServiceError: Expects a response from POST http://127.0.0.1:9/v1/...
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        config: GenerationConfig | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_concurrency: int = 8,
    ) -> None:
        super().__init__(config)
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"Expects base_url to start with http:// or https://, actual: {base_url!r}"
            )
        if timeout_s <= 0 or max_retries < 0 or backoff_s < 0 or max_concurrency < 1:
            raise ConfigError(
                "Expects timeout_s > 0, max_retries >= 0, backoff_s >= 0 and max_concurrency >= 1, "
                f"actual: {timeout_s}, {max_retries}, {backoff_s}, {max_concurrency}"
            )
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_concurrency = max_concurrency
        self._usage_lock = threading.Lock()

    def complete_batch(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig | None = None
    ) -> list[Completion]:
        """Complete each conversation with one request (up to ``max_concurrency`` at once)."""
        config = config or self.config
        configs = [config.replace(seed=config.seed + i) for i in range(len(conversations))]
        if len(conversations) <= 1 or self.max_concurrency == 1:
            return [self.complete(c, k) for c, k in zip(conversations, configs, strict=True)]
        with ThreadPoolExecutor(min(len(conversations), self.max_concurrency)) as pool:
            return list(pool.map(self.complete, conversations, configs))

    def complete(
        self, messages: Sequence[Message], config: GenerationConfig | None = None
    ) -> Completion:
        """Complete one conversation with one chat-completions request."""
        config = config or self.config
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "max_tokens": config.max_new_tokens,
            "temperature": config.temperature,
            "top_p": config.top_p,
            "seed": config.seed,
        }
        if config.stop:
            payload["stop"] = list(config.stop)
        response = self._post(payload)
        try:
            choice = response["choices"][0]
            content = choice["message"].get("content") or ""
            finish_reason = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ServiceError(
                f"Expects an OpenAI chat completion from POST {self.url} with "
                f"choices[0].message.content, actual: {_excerpt(json.dumps(response))}"
            ) from exc
        content, stop_reason = restore_stop(content, finish_reason, choice, config.stop)
        usage = response.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)
        with self._usage_lock:
            self.usage.add(prompt_tokens, completion_tokens)
        return Completion(
            content,
            "length" if finish_reason == "length" else "stop",
            stop_reason,
            prompt_tokens,
            completion_tokens,
        )

    def _post(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return post_json(
            self.url,
            payload,
            headers=headers,
            timeout_s=self.timeout_s,
            retries=self.max_retries,
            backoff_s=self.backoff_s,
            hint=". Check that the server runs and base_url ends with the API root (e.g. /v1).",
        )


def restore_stop(
    content: str, finish_reason: str | None, choice: Mapping[str, Any], stop: Sequence[str]
) -> tuple[str, str | None]:
    """Find which stop string ended a server completion; return ``(content, stop_reason)``.

    ``content`` comes back without the stop string (also when the server left it in).
    ``stop_reason`` is the choice's ``stop_reason`` or ``matched_stop`` when the server sends one
    (``None`` there means end-of-sequence); otherwise, after ``finish_reason == "stop"``, the
    closing tag in ``stop`` whose opening tag was left open last; ``None`` if there is none.

    Example:
        >>> stops = ("</tool_call>", "</answer>", "<tool_response>")
        >>> restore_stop("<answer>Paris", "stop", {"stop_reason": "</answer>"}, stops)
        ('<answer>Paris', '</answer>')
        >>> restore_stop("<answer>Paris", "stop", {"stop_reason": None}, stops)  # ended on EOS
        ('<answer>Paris', None)
        >>> restore_stop("<answer>Paris", "length", {}, stops)
        ('<answer>Paris', None)
        >>> restore_stop("<answer>Paris</answer>", "stop", {}, stops)  # server kept the stop
        ('<answer>Paris', '</answer>')
    """
    content, found = truncate_at_stop(content, stop)
    if found is not None:  # the server kept the stop string (or ignored the stop list)
        return content, found
    if finish_reason != "stop":
        return content, None
    reported = choice.get("stop_reason", _MISSING)
    if reported is _MISSING:
        reported = choice.get("matched_stop", _MISSING)
    if reported is not _MISSING:
        return content, reported if isinstance(reported, str) and reported in stop else None
    best, best_at = None, -1
    for tag in stop:
        if not is_closing_tag(tag):
            continue
        opened = content.rfind("<" + tag[2:])
        if opened > best_at and opened > content.rfind(tag):
            best, best_at = tag, opened
    return content, best


def _read(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read().decode(errors="replace")
    except Exception:  # pragma: no cover - body already consumed or connection dropped
        return ""


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
