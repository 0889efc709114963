"""Shared fixtures: SmolLM2 is loaded once per test session (~15 s on two CPU cores)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

_FRANCE = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]
_HTML = [{"role": "user", "content": "Write the HTML tag <b>bold</b> around the word hello."}]


@pytest.fixture(scope="session")
def smollm2():
    """``(model, tokenizer)`` of the embedded SmolLM2-135M-Instruct, loaded once."""
    pytest.importorskip("torch")
    from lite_world.agents.smollm import load_smollm2

    return load_smollm2()


@pytest.fixture
def make_agent(smollm2):
    """Build a TransformersAgent on the shared SmolLM2 with the given GenerationConfig fields."""
    from lite_world.agents import GenerationConfig, TransformersAgent

    def make(**config):
        model, tokenizer = smollm2
        return TransformersAgent(model, tokenizer, GenerationConfig(**config))

    return make


@pytest.fixture
def france():
    """A 2-message conversation SmolLM2 answers in 8 greedy tokens."""
    return [dict(m) for m in _FRANCE]


@pytest.fixture
def html():
    """A conversation whose greedy answer starts with '```html\\n<b>bold</b>'."""
    return [dict(m) for m in _HTML]
