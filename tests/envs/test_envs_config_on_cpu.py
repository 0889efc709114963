"""LiteSearchConfig: every field's bad value raises the typed error at ``gym.make`` time.

One case per field (several for the choice fields); each goes through ``gym.make`` so the test
proves the error surfaces before any world is opened or any step is taken.
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import pytest

import lite_world  # noqa: F401  (registers LiteSearch-v0)
from lite_world.envs.config import LiteSearchConfig
from lite_world.errors import ConfigError, TaskError, WorldNotFoundError

BAD = {
    "world": (
        {"world": 3},
        ConfigError,
        r"Expects LiteSearchConfig.world to be a directory, 'demo', .* actual: 3",
    ),
    "tasks": (
        {"tasks": 5},
        ConfigError,
        r"Expects LiteSearchConfig.tasks to be None, a task file path or a list",
    ),
    "action_format": (
        {"action_format": "xml"},
        ConfigError,
        r"action_format in \('tool_call', 'tags'\), actual: 'xml'",
    ),
    "tools": (
        {"tools": ("search", "calc")},
        ConfigError,
        r"Expects a registered tool name .* actual: 'calc'",
    ),
    "system_prompt": (
        {"system_prompt": "/no/such/prompt.txt"},
        ConfigError,
        r"system_prompt to name a readable file",
    ),
    "date": (
        {"date": "2025-13-01"},
        ConfigError,
        r"Expects date as YYYY-MM-DD, actual: '2025-13-01'",
    ),
    "max_turns": (
        {"max_turns": 0},
        ConfigError,
        r"Expects the turn limit as Gymnasium's max_episode_steps",
    ),
    "max_observation_chars": (
        {"max_observation_chars": 99},
        ConfigError,
        r"max_observation_chars to be an int >= 100",
    ),
    "max_answer_chars": (
        {"max_answer_chars": 0},
        ConfigError,
        r"max_answer_chars to be an int >= 1, actual: 0",
    ),
    "reward": (
        {"reward": "bleu"},
        ConfigError,
        r"reward in \('em', 'f1', 'judge'\), actual: 'bleu'",
    ),
    "judge_url": (
        {"reward": "judge", "judge_model": "m"},
        ConfigError,
        r"actual: judge_url=None, judge_model='m'",
    ),
    "judge_model": (
        {"reward": "judge", "judge_url": "http://127.0.0.1:9/v1"},
        ConfigError,
        r"judge_model=None",
    ),
    "judge_api_key": (
        {"judge_api_key": 7},
        ConfigError,
        r"judge_api_key to be None or a str, actual: 7",
    ),
    "judge_timeout_s": (
        {"judge_timeout_s": 0},
        ConfigError,
        r"judge_timeout_s to be a number > 0.0, actual: 0",
    ),
    "mask_sources": (
        {"mask_sources": "yes"},
        ConfigError,
        r"mask_sources to be a bool, actual: 'yes'",
    ),
    "search_k": (
        {"search_k": 101},
        ConfigError,
        r"search_k to be an int in \[1, 100\], actual: 101",
    ),
    "search_mode": (
        {"search_mode": "fuzzy"},
        ConfigError,
        r"search_mode in \('hybrid', 'dense', 'sparse'\)",
    ),
    "search_style": (
        {"search_style": "bing"},
        ConfigError,
        r"search_style in \('web', 'train'\), actual: 'bing'",
    ),
    "visit_max_chars": (
        {"visit_max_chars": 2.5},
        ConfigError,
        r"visit_max_chars to be an int >= 100, actual: 2.5",
    ),
}


def test_every_field_has_a_bad_value_case_and_help():
    fields = dataclasses.fields(LiteSearchConfig)
    assert sorted(f.name for f in fields) == sorted(BAD)
    assert all(f.metadata.get("help") for f in fields)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_value_raises_at_make_time(name):
    kwargs, error, message = BAD[name]
    with pytest.raises(error, match=message):
        gym.make("LiteSearch-v0", **kwargs)


@pytest.mark.parametrize("name", sorted(set(BAD) - {"max_turns"}))
def test_the_config_itself_raises_the_same(name):
    kwargs, error, message = BAD[name]
    with pytest.raises(error, match=message):
        LiteSearchConfig(**kwargs)


def test_max_turns_is_checked_by_the_config():
    with pytest.raises(ConfigError, match=r"max_turns to be an int >= 1, actual: 0"):
        LiteSearchConfig(max_turns=0)


def test_unknown_option_and_missing_world_fail_at_make_time(tmp_path):
    with pytest.raises(
        ConfigError, match="Expects LiteSearch-v0 options among LiteSearchConfig's fields"
    ):
        gym.make("LiteSearch-v0", serch_k=3)
    with pytest.raises(WorldNotFoundError, match="Expects a world directory at"):
        gym.make("LiteSearch-v0", world=str(tmp_path / "missing"))
    with pytest.raises(TaskError, match="Expects at least one task"):
        gym.make("LiteSearch-v0", tasks=[])


def test_config_object_and_keywords_combine(tiny_world, tasks):
    cfg = LiteSearchConfig(world=str(tiny_world), tasks=tasks, search_k=4)
    env = gym.make("LiteSearch-v0", config=cfg, search_mode="sparse")
    assert env.unwrapped.config == cfg.replace(search_mode="sparse")
    assert env.unwrapped.config.tasks == tuple(tasks)


def test_round_trip_through_json_and_plain_values(tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("You answer questions.\n")
    cfg = LiteSearchConfig(tools=["search"], system_prompt=str(prompt), date=None, reward="f1")
    assert cfg.tools == ("search",)
    assert LiteSearchConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.prompt_text() == "You answer questions.\n"


def test_custom_system_prompt_is_used_verbatim(tiny_world, tasks, tmp_path):
    prompt = tmp_path / "trained_with.md"
    prompt.write_text("You are the agent I was trained as.")
    env = gym.make("LiteSearch-v0", world=str(tiny_world), tasks=tasks, system_prompt=str(prompt))
    obs, info = env.reset(seed=0)
    assert info["messages"][0] == {
        "role": "system",
        "content": "You are the agent I was trained as.",
    }
    assert obs.startswith("system:\nYou are the agent I was trained as.\n\nuser:\n")
    env = gym.make(
        "LiteSearch-v0", world=str(tiny_world), tasks=tasks, system_prompt="Inline prompt."
    )
    assert env.reset(seed=0)[1]["messages"][0]["content"] == "Inline prompt."
