from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from lite_world.agents import (
    DEFAULT_STOP,
    Agent,
    ChatAgent,
    Completion,
    GenerationConfig,
    Usage,
    truncate_at_stop,
)
from lite_world.agents.base import conversation_from, is_closing_tag, stop_from
from lite_world.errors import ConfigError


def test_generation_config_defaults():
    config = GenerationConfig()
    assert (config.max_new_tokens, config.temperature, config.top_p, config.seed) == (
        512,
        0.0,
        1.0,
        0,
    )
    # only a hallucinated tool result stops a turn: the model ends its turn with its EOT token
    assert config.stop == ("\n<tool_response>", "<tool_response>") == DEFAULT_STOP
    assert not config.do_sample


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_new_tokens": 0}, r"max_new_tokens >= 1, actual: 0"),
        ({"max_new_tokens": 2.5}, r"max_new_tokens to be an int, actual: 2.5"),
        ({"temperature": -0.1}, r"temperature >= 0, actual: -0.1"),
        ({"top_p": 0.0}, r"top_p in \(0, 1\], actual: 0.0"),
        ({"top_p": 1.5}, r"top_p in \(0, 1\], actual: 1.5"),
        ({"seed": "1"}, r"seed to be an int, actual: '1'"),
        ({"stop": "</answer>"}, r"stop to be a sequence of strings"),
        ({"stop": ["</answer>", ""]}, r"stop to hold non-empty strings"),
    ],
)
def test_generation_config_rejects(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        GenerationConfig(**kwargs)


def test_generation_config_is_frozen_and_replace_validates():
    config = GenerationConfig()
    with pytest.raises(AttributeError):
        config.temperature = 1.0  # type: ignore[misc]
    assert config.replace(stop=["</answer>"]).stop == ("</answer>",)
    with pytest.raises(ConfigError, match="top_p"):
        config.replace(top_p=2.0)


@pytest.mark.parametrize(
    ("text", "stop", "expected"),
    [
        (
            '<tool_call>{"a": 1}</tool_call>\n<tool_response>x',
            DEFAULT_STOP,
            ('<tool_call>{"a": 1}</tool_call>', "\n<tool_response>"),
        ),
        (
            "<think>t</think>\n<answer>Paris</answer>",
            DEFAULT_STOP,
            ("<think>t</think>\n<answer>Paris</answer>", None),
        ),
        (
            "I will search.<tool_response>\nfake",
            DEFAULT_STOP,
            ("I will search.", "<tool_response>"),
        ),
        (
            "a\n<tool_response>b",
            ("<tool_response>", "\n<tool_response>"),
            ("a", "\n<tool_response>"),
        ),
        ("x</answer>y</tool_call>", ("</tool_call>", "</answer>"), ("x", "</answer>")),
        ("no stop", DEFAULT_STOP, ("no stop", None)),
        ("</answer>", ("</answer>",), ("", "</answer>")),
        ("abc", (), ("abc", None)),
    ],
)
def test_truncate_at_stop(text, stop, expected):
    assert truncate_at_stop(text, stop) == expected


def test_completion_text_keeps_closing_tags_only():
    assert (
        Completion('<tool_call>{"a": 1}', "stop", "</tool_call>", 5, 3).text
        == '<tool_call>{"a": 1}</tool_call>'
    )
    assert Completion("x\n", "stop", "<tool_response>", 5, 3).text == "x\n"
    assert Completion("x", "stop", None, 5, 3).text == "x"
    assert Completion("x", "length", None, 5, 3).text == "x"
    assert [is_closing_tag(s) for s in ("</answer>", "<answer>", "</>", "</x", "x>")] == [
        True,
        False,
        False,
        False,
        False,
    ]


def test_conversation_and_stop_from_info():
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    conversation = conversation_from("ignored", {"messages": messages})
    assert conversation == messages and conversation[0] is not messages[0]  # copies
    assert conversation_from("Q?", {}) == [{"role": "user", "content": "Q?"}]
    assert stop_from({"stop": ["</answer>"]}, GenerationConfig()).stop == ("</answer>",)
    config = GenerationConfig(max_new_tokens=7)
    assert stop_from({}, config) is config


class _Recorder(ChatAgent):
    """Completes with the last message reversed; records the configs it was called with."""

    def __init__(self, config):
        super().__init__(config)
        self.calls = []

    def complete_batch(self, conversations, config=None):
        self.calls.append((len(conversations), config))
        return [
            Completion(c[-1]["content"][::-1], "stop", "</answer>", 4, 2) for c in conversations
        ]


def test_chat_agent_act_uses_info_messages_and_stop():
    agent = _Recorder(GenerationConfig())
    assert isinstance(agent, Agent)
    agent.reset({"question": "Q"})
    info = {"messages": [{"role": "user", "content": "abc"}], "stop": ["</answer>"]}
    assert agent.act("observation", info) == "cba</answer>"
    assert agent.calls[0][1].stop == ("</answer>",)
    assert agent.generate_batch([[{"role": "user", "content": "xy"}]] * 2) == ["yx</answer>"] * 2


def test_chat_agent_advances_sampling_seed_per_conversation():
    agent = _Recorder(GenerationConfig(temperature=0.7, seed=10))
    agent.act("a", {})
    agent.generate_batch([[{"role": "user", "content": "b"}]] * 3)
    agent.act("c", {})
    assert [config.seed for _, config in agent.calls] == [10, 11, 14]
    greedy = _Recorder(GenerationConfig(seed=10))
    greedy.act("a", {})
    greedy.act("b", {})
    assert [config.seed for _, config in greedy.calls] == [10, 10]


def test_chat_agent_requires_generation_config():
    with pytest.raises(ConfigError, match="Expects config to be a GenerationConfig, actual: dict"):
        _Recorder({"temperature": 0.0})


def test_usage_adds_up():
    usage = Usage()
    usage.add(10, 2)
    usage.add(5, 1)
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        2,
        15,
        3,
        18,
    )


def test_importing_agents_does_not_import_torch():
    code = (
        "import sys, lite_world.agents as a; "
        "assert a.OpenAIAgent and a.GenerationConfig; "
        "heavy = ('torch', 'transformers', 'starlette', 'uvicorn'); "
        "heavy = [m for m in heavy if m in sys.modules]; "
        "print(heavy)"
    )
    root = pathlib.Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root, env=env
    )
    assert out.stdout.strip() == "[]"
