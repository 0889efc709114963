"""``LiteSearch-v0`` is registered, passes Gymnasium's env checker, and resets to the prompt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import gymnasium as gym
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers import TimeLimit

import lite_world
from lite_world.envs import AnyText, LiteSearchEnv
from lite_world.tools.prompts import system_prompt, tools_block

# The bundled demo tasks: reset(seed=0) draws this one.
SEED0_ID = "2hop__590911_47465"
SEED0_QUESTION = "The state where Henry Worrall died has how many congressional districts?"
STOP = ["\n<tool_response>", "<tool_response>"]


def test_make_without_arguments_resets_to_the_prompt():
    env = gym.make("LiteSearch-v0")
    assert env.spec.id == "LiteSearch-v0"
    assert env.spec.entry_point == "lite_world.envs.search_env:LiteSearchEnv"
    assert isinstance(env.unwrapped, LiteSearchEnv)
    obs, info = env.reset(seed=0)
    system = system_prompt("tool_call", date="2025-12-26")
    assert obs == f"system:\n{system}\n\nuser:\n{SEED0_QUESTION}"
    for schema in tools_block().splitlines():  # both tool schemas, verbatim
        assert schema in obs
    assert '"name": "search"' in obs and '"name": "visit"' in obs
    assert set(info) == {"task", "messages", "stop"}
    assert info["messages"] == [
        {"role": "system", "content": system},
        {"role": "user", "content": SEED0_QUESTION},
    ]
    assert info["stop"] == STOP
    assert info["task"] == {
        "id": SEED0_ID,
        "question": SEED0_QUESTION,
        "answers": ["4"],
        "mask_urls": [],
        "capability": "2-hop",
        "difficulty": 2,
        "meta": {
            "dataset": "musique",
            "supporting_urls": [
                "https://en.wikipedia.org/wiki/Henry_Worrall_(artist)",
                "https://en.wikipedia.org/wiki/Kansas's_congressional_districts",
            ],
        },
    }
    env.close()


def _time_limits(env):
    out, wrapper = [], env
    while hasattr(wrapper, "env"):
        if isinstance(wrapper, TimeLimit):
            out.append(wrapper._max_episode_steps)
        wrapper = wrapper.env
    return out


def test_registration_carries_the_turn_limit():
    from lite_world.envs.config import LiteSearchConfig

    spec = gym.spec("LiteSearch-v0")
    assert spec.entry_point == "lite_world.envs.search_env:LiteSearchEnv"
    assert spec.max_episode_steps == LiteSearchConfig().max_turns == 32


@pytest.mark.parametrize(
    ("make", "limits"),
    [
        (lambda: gym.make("LiteSearch-v0"), [32]),
        (lambda: gym.make("LiteSearch-v0", max_episode_steps=7), [7]),
        (lambda: lite_world.make_env(lite_world.LiteSearchConfig(max_turns=5)), [5]),
        (lambda: lite_world.make_env(max_turns=6, search_k=3), [6]),
    ],
)
def test_exactly_one_time_limit(make, limits):
    env = make()
    assert _time_limits(env) == limits
    assert repr(env.observation_space) == "AnyText(0, 1048576)"
    assert repr(env.action_space) == "AnyText(0, 200000)"
    assert isinstance(env.observation_space, AnyText)


def test_construction_reset_and_text_steps_open_no_world():
    """Backends open lazily, in the process that runs a tool (async workers never get handles)."""
    env = gym.make("LiteSearch-v0")
    env.reset(seed=1)
    _, reward, terminated, truncated, info = env.step("no call here")
    assert (reward, terminated, truncated, info["action_kind"]) == (0.0, False, False, "none")
    assert env.unwrapped._tools is None


def test_module_prefixed_id_works_in_a_fresh_interpreter():
    """``gym.make("lite_world:LiteSearch-v0")`` imports the package itself."""
    script = (
        "import json, sys, gymnasium as gym\n"
        "assert 'lite_world' not in sys.modules\n"
        "env = gym.make('lite_world:LiteSearch-v0')\n"
        "obs, info = env.reset(seed=0)\n"
        "print(json.dumps([obs, info['task']['id'], info['stop']]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
        check=True,
    )
    obs, task_id, stop = json.loads(out.stdout)
    assert task_id == SEED0_ID
    assert stop == STOP
    assert obs == gym.make("LiteSearch-v0").reset(seed=0)[0]


def test_step_before_reset_is_refused_by_order_enforcing():
    env = gym.make("LiteSearch-v0")
    with pytest.raises(
        ResetNeeded, match="Cannot call env.step\\(\\) before calling env.reset\\(\\)"
    ):
        env.step("<answer>4</answer>")


@pytest.mark.parametrize("action_format", ["tool_call", "tags"])
def test_env_checker_passes_without_warnings(action_format):
    env = gym.make("LiteSearch-v0", action_format=action_format)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    env.close()


def test_render_ansi_is_the_transcript(make_env):
    env = make_env(render_mode="ansi")
    obs, _ = env.reset(seed=0, options={"task_id": "2hop__205146_62031"})
    assert env.render() == obs
    env.step("thinking aloud")
    transcript = env.render()
    assert transcript.startswith(
        obs + "\n\nassistant:\nthinking aloud\n\nuser:\n<tool_response>\nError: No tool call"
    )
    plain = make_env()
    plain.reset(seed=0)
    assert plain.render() is None
