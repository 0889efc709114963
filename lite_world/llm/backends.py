"""Where completions come from: an OpenAI-compatible endpoint, or transformers in this process.

A backend turns a batch of chat conversations into replies ``{text, prompt_tokens,
completion_tokens}`` and raises :class:`~lite_world.errors.ServiceError` when it cannot.
:class:`OpenAIBackend` speaks ``POST {base_url}/chat/completions`` (vLLM, SGLang, llama.cpp
server, hosted APIs, ``python -m lite_world.agents.openai_server``) with retries and
exponential backoff; :class:`TransformersBackend` runs a causal LM on this machine (default the
embedded SmolLM2-135M-Instruct, offline) through
:class:`~lite_world.agents.hf.TransformersAgent`, so every synthesis step runs on a bare CPU.

Example:
    >>> b = OpenAIBackend("http://127.0.0.1:9/v1", "m", retries=0, timeout_s=0.5)
    >>> b.url
    'http://127.0.0.1:9/v1/chat/completions'
    >>> b.generate([[{"role": "user", "content": "hi"}]], max_tokens=4, temperature=0.0)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lite_world.errors.ServiceError: Expects a response from POST ..., actual: ... after 1 attempt(s)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from lite_world.errors import ConfigError, ServiceError
from lite_world.http_json import post_json

__all__ = ["Backend", "OpenAIBackend", "TransformersBackend"]

logger = logging.getLogger(__name__)

Messages = Sequence[Mapping[str, Any]]


@runtime_checkable
class Backend(Protocol):
    """A completion source: ``model`` names it (part of the cache key), ``batch_size`` is how
    many conversations one :meth:`generate` call takes."""

    model: str
    batch_size: int

    def generate(
        self, batch: Sequence[Messages], *, max_tokens: int, temperature: float
    ) -> list[dict[str, Any]]: ...


class OpenAIBackend:
    """Chat completions over HTTP (stdlib only); one conversation per request.

    Args:
        base_url: The API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: The served model name.
        api_key: Sent as a bearer token when given.
        timeout_s, retries, backoff_s: Per request; connection errors, timeouts, HTTP 429 and 5xx
            are retried, sleeping ``backoff_s * 2**i``.
    """

    batch_size = 1

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        retries: int = 2,
        backoff_s: float = 0.5,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"Expects base_url to start with http(s)://, actual: {base_url!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout_s, self.retries, self.backoff_s = (
            float(timeout_s),
            int(retries),
            float(backoff_s),
        )

    def generate(
        self, batch: Sequence[Messages], *, max_tokens: int, temperature: float
    ) -> list[dict[str, Any]]:
        return [self._one(m, max_tokens, temperature) for m in batch]

    def _one(self, messages: Messages, max_tokens: int, temperature: float) -> dict[str, Any]:
        payload = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        body = self._post(payload)
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise ServiceError(
                f"Expects 'choices' in the response of {self.url}, actual: {str(body)[:200]}"
            )
        msg = choices[0].get("message") or {}
        text = msg.get("content") if isinstance(msg, dict) else None
        if not isinstance(text, str):
            text = ""
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        return {
            "text": text,
            "prompt_tokens": int(usage.get("prompt_tokens") or 0),
            "completion_tokens": int(usage.get("completion_tokens") or 0),
        }

    def _post(self, payload: Mapping[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return post_json(
            self.url,
            payload,
            headers=headers,
            timeout_s=self.timeout_s,
            retries=self.retries,
            backoff_s=self.backoff_s,
            retry_bad_json=True,
        )


class TransformersBackend:
    """A transformers causal LM in this process (default: the embedded SmolLM2-135M-Instruct).

    Conversations are generated ``batch_size`` at a time in one left-padded ``generate`` call;
    calls from several threads run one at a time.
    """

    def __init__(
        self, model: str | Any = "smollm2", tokenizer: Any | None = None, *, batch_size: int = 4
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"Expects batch_size >= 1, actual: {batch_size}")
        from lite_world.agents.base import GenerationConfig
        from lite_world.agents.hf import TransformersAgent

        self._agent = TransformersAgent(model, tokenizer, GenerationConfig(stop=()))
        self.model = model if isinstance(model, str) else type(model).__name__
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def generate(
        self, batch: Sequence[Messages], *, max_tokens: int, temperature: float
    ) -> list[dict[str, Any]]:
        config = self._agent.config.replace(
            max_new_tokens=max_tokens, temperature=temperature, stop=()
        )
        with self._lock:
            comps = self._agent.complete_batch([list(m) for m in batch], config)
        return [
            {
                "text": c.content,
                "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens,
            }
            for c in comps
        ]
