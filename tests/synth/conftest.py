"""A local OpenAI-compatible server that answers like a bad model, and real pages to work on.

``junk_llm`` serves ``POST /v1/chat/completions`` through the project's own server
(:func:`lite_world.agents.openai_server.create_openai_app`); the reply for a request is chosen by
``junk_llm.rule(prompt_text) -> reply text`` which a test sets, so every test decides exactly
which malformed or adversarial output each request gets. ``junk_llm.fail`` lists substrings of
prompts whose request fails with HTTP 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lite_world.agents.base import ChatAgent, Completion, GenerationConfig


class _JunkModel(ChatAgent):
    def __init__(self) -> None:
        super().__init__(GenerationConfig())
        self.rule: Callable[[str], str] = lambda prompt: "I cannot help with that."
        self.fail: list[str] = []
        self.prompts: list[str] = []

    def complete_batch(self, conversations: Any, config: Any = None) -> list[Completion]:
        out = []
        for conv in conversations:
            prompt = conv[-1]["content"]
            self.prompts.append(prompt)
            if any(s in prompt for s in self.fail):
                raise RuntimeError("planted server failure")
            out.append(Completion(self.rule(prompt), "stop", None, len(prompt) // 4, 7))
        return out


class JunkServer:
    def __init__(self, model: _JunkModel, base_url: str) -> None:
        self.model = model
        self.base_url = base_url

    @property
    def prompts(self) -> list[str]:
        return self.model.prompts

    def set(self, rule: Callable[[str], str], fail: list[str] | None = None) -> None:
        self.model.rule = rule
        self.model.fail = fail or []


@pytest.fixture()
def junk_llm() -> Iterator[JunkServer]:
    pytest.importorskip("starlette")
    from lite_world.agents.openai_server import create_openai_app, serve_in_thread

    model = _JunkModel()
    with serve_in_thread(create_openai_app(model, "junk")) as server:
        yield JunkServer(model, server.base_url)


@pytest.fixture()
def junk_client(junk_llm, tmp_path):
    """An LLMClient on the junk server with its own cache, no retries, no progress bars."""
    from lite_world.llm import LLMConfig, make_client

    cfg = LLMConfig(
        base_url=junk_llm.base_url,
        model="junk",
        retries=0,
        concurrency=4,
        cache_path=str(tmp_path / "llm.sqlite"),
        show_progress=False,
    )
    client = make_client(cfg)
    yield client
    client.close()


@pytest.fixture(scope="session")
def tiny_pages(tiny_world) -> list[dict[str, Any]]:
    """Eight real pages of the tiny world (a fixed seeded sample)."""
    from lite_world.synth.pages import load_pages

    return load_pages(tiny_world, limit=8, seed=0, min_chars=300)


def page_of(prompt: str, pages: list[dict[str, Any]]) -> dict[str, Any]:
    """The page whose title a prompt names (``Page title: ...``)."""
    for p in pages:
        if f"Page title: {p['title']}\n" in prompt:
            return p
    raise AssertionError("no page in prompt")


def dumps(x: Any) -> str:
    return json.dumps(x)
