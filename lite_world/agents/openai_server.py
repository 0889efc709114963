"""A small OpenAI-compatible chat-completions server around an in-process generator.

It serves a :class:`~lite_world.agents.hf.TransformersAgent` (or any
:class:`~lite_world.agents.base.Generator`) so that :class:`~lite_world.agents.openai.OpenAIAgent`
and other OpenAI clients can use it::

    python -m lite_world.agents.openai_server --model smollm2 --port 8001

Endpoints: ``POST /v1/chat/completions`` (non-streaming, ``n == 1``; fields ``messages``,
``stop``, ``max_tokens`` / ``max_completion_tokens``, ``temperature``, ``top_p``, ``seed``;
a field left out takes the generator's :class:`GenerationConfig` value, and no ``stop`` means no
stop strings) and ``GET /v1/models``. Like vLLM, the reply's content excludes the stop string and
the choice names it in ``stop_reason``. Requests are generated one at a time (a lock).

Example:
    >>> from lite_world.agents.base import ChatAgent, Completion, GenerationConfig
    >>> class Upper(ChatAgent):
    ...     def complete_batch(self, conversations, config=None):
    ...         text = conversations[0][-1]["content"].upper()
    ...         return [Completion(text, "stop", None, prompt_tokens=3, completion_tokens=2)]
    >>> from lite_world.agents.openai import OpenAIAgent
    >>> with serve_in_thread(create_openai_app(Upper(GenerationConfig()), "upper")) as server:
    ...     agent = OpenAIAgent(server.base_url, "upper")
    ...     agent.act("hello", {}), agent.usage.completion_tokens
    ('HELLO', 2)
"""

from __future__ import annotations

import argparse
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from lite_world._lazy import require
from lite_world.agents.base import GenerationConfig, Generator
from lite_world.errors import ConfigError, ServiceError

starlette_applications = require("starlette.applications", extra="serve")
starlette_concurrency = require("starlette.concurrency", extra="serve")
starlette_responses = require("starlette.responses", extra="serve")
starlette_routing = require("starlette.routing", extra="serve")

__all__ = ["RunningServer", "create_openai_app", "main", "serve_in_thread"]

logger = logging.getLogger(__name__)

JSONResponse = starlette_responses.JSONResponse


def create_openai_app(
    generator: Generator, model_name: str = "smollm2", report_stop_reason: bool = True
) -> Any:
    """A Starlette app serving ``generator`` under the OpenAI chat-completions API.

    Args:
        generator: Has ``config`` (the defaults) and ``complete_batch(conversations, config)``.
        model_name: The id listed by ``GET /v1/models`` and echoed in responses.
        report_stop_reason: Put vLLM's ``stop_reason`` in each choice; ``False`` mimics servers
            (like OpenAI's) that do not say which stop string matched.

    Example:
        >>> from lite_world.agents.base import ChatAgent, GenerationConfig
        >>> app = create_openai_app(ChatAgent(GenerationConfig()), "demo")
        >>> sorted(route.path for route in app.routes)
        ['/v1/chat/completions', '/v1/models']
    """
    lock = threading.Lock()
    created = int(time.time())

    def generate(messages: list[dict[str, Any]], config: GenerationConfig) -> Any:
        with lock:
            return generator.complete_batch([messages], config)[0]

    async def chat_completions(request: Any) -> Any:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Expects a JSON request body, actual: not JSON")
        try:
            messages, config = parse_request(body, generator.config)
        except ConfigError as exc:
            return _error(400, str(exc))
        try:
            completion = await starlette_concurrency.run_in_threadpool(generate, messages, config)
        except Exception as exc:  # reported to the client, logged here
            logger.exception("generation failed")
            return _error(500, f"Generation failed: {type(exc).__name__}: {exc}", "server_error")
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": completion.content},
            "logprobs": None,
            "finish_reason": completion.finish_reason,
        }
        if report_stop_reason:
            choice["stop_reason"] = completion.stop_reason
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or model_name,
                "choices": [choice],
                "usage": {
                    "prompt_tokens": completion.prompt_tokens,
                    "completion_tokens": completion.completion_tokens,
                    "total_tokens": completion.prompt_tokens + completion.completion_tokens,
                },
            }
        )

    async def models(request: Any) -> Any:
        card = {"id": model_name, "object": "model", "created": created, "owned_by": "lite-world"}
        return JSONResponse({"object": "list", "data": [card]})

    Route = starlette_routing.Route
    return starlette_applications.Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


def parse_request(
    body: Any, defaults: GenerationConfig
) -> tuple[list[dict[str, Any]], GenerationConfig]:
    """Validate a chat-completions request body; return its messages and generation config.

    Raises:
        ConfigError: a field is missing, of the wrong type, or unsupported (streaming, ``n > 1``).

    Example:
        >>> body = {"messages": [{"role": "user", "content": "Hi"}], "stop": "</answer>"}
        >>> body["max_tokens"] = 8
        >>> messages, config = parse_request(body, GenerationConfig())
        >>> config.stop, config.max_new_tokens, config.temperature
        (('</answer>',), 8, 0.0)
        >>> parse_request({"messages": []}, GenerationConfig())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects 'messages' to be a non-empty list of ..., actual: []
    """
    if not isinstance(body, dict):
        raise ConfigError(f"Expects a JSON object as request body, actual: {type(body).__name__}")
    if body.get("stream"):
        raise ConfigError("Expects 'stream' to be false, actual: true (streaming is not supported)")
    if body.get("n", 1) != 1:
        raise ConfigError(f"Expects 'n' to be 1, actual: {body.get('n')!r}")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw or not all(_is_message(m) for m in raw):
        raise ConfigError(
            "Expects 'messages' to be a non-empty list of {role, content} objects, "
            f"actual: {str(raw)[:200]}"
        )
    messages = [{"role": m["role"], "content": _text(m.get("content"))} for m in raw]
    stop = body.get("stop")
    stop = () if stop is None else (stop,) if isinstance(stop, str) else stop
    if not isinstance(stop, (list, tuple)):
        raise ConfigError(f"Expects 'stop' to be a string or a list of strings, actual: {stop!r}")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    config = defaults.replace(
        stop=tuple(stop),
        max_new_tokens=defaults.max_new_tokens if max_tokens is None else max_tokens,
        temperature=_number(body, "temperature", defaults.temperature),
        top_p=_number(body, "top_p", defaults.top_p),
        seed=defaults.seed if body.get("seed") is None else body["seed"],
    )
    return messages, config


class RunningServer(NamedTuple):
    """A server started by :func:`serve_in_thread`: unpack it or use it as a context manager."""

    base_url: str
    stop: Callable[[], None]

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_in_thread(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    startup_timeout_s: float = 30.0,
) -> RunningServer:
    """Serve ``app`` with uvicorn in a daemon thread; return once it accepts connections.

    ``port=0`` picks a free port. The result unpacks to ``(base_url, stop)`` (``base_url`` ends
    with ``/v1``) and is a context manager that stops the server on exit.

    Raises:
        ServiceError: the server did not start within ``startup_timeout_s``.

    Example:
        >>> from lite_world.agents.base import ChatAgent, GenerationConfig
        >>> base_url, stop = serve_in_thread(create_openai_app(ChatAgent(GenerationConfig())))
        >>> base_url.startswith("http://127.0.0.1:"), base_url.endswith("/v1")
        (True, True)
        >>> stop()
    """
    uvicorn = require("uvicorn", extra="serve")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"openai-server:{port}", daemon=True
    )

    def stop() -> None:
        server.should_exit = True
        if thread.is_alive():
            thread.join(timeout=10.0)
        sock.close()

    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            stop()
            raise ServiceError(
                f"Expects the server on {host}:{port} to start within {startup_timeout_s}s, "
                f"actual: {'it exited' if not thread.is_alive() else 'still starting'}"
            )
        time.sleep(0.01)
    url_host = f"[{host}]" if family == socket.AF_INET6 else host
    return RunningServer(f"http://{url_host}:{port}/v1", stop)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a transformers model: ``python -m lite_world.agents.openai_server --model smollm2``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", default="smollm2", help="'smollm2', a model directory or a cached model id"
    )
    parser.add_argument("--served-model-name", default=None, help="model id reported to clients")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--max-new-tokens", type=int, default=512, help="default max_tokens")
    args = parser.parse_args(argv)
    from lite_world.agents.hf import TransformersAgent

    uvicorn = require("uvicorn", extra="serve")
    agent = TransformersAgent(
        args.model, config=GenerationConfig(max_new_tokens=args.max_new_tokens)
    )
    app = create_openai_app(agent, args.served_model_name or args.model)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


def _is_message(message: Any) -> bool:
    return isinstance(message, dict) and isinstance(message.get("role"), str)


def _text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    raise ConfigError(
        f"Expects message content to be a string or a list of parts, actual: {content!r}"
    )


def _number(body: dict[str, Any], key: str, default: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"Expects {key!r} to be a number, actual: {value!r}")
    return float(value)


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Any:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": status}}, status_code=status
    )


if __name__ == "__main__":  # pragma: no cover
    main()
