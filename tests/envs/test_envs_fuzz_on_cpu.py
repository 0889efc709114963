"""Property-based fuzz of ``env.step`` on a local world: every string is a legal action.

Each example resets the env and plays one hostile turn (see :func:`lite_world.testing.actions`),
then a valid search, so an error never leaves the env unusable. The served-world twin is
tests/serve/test_serve_env_fuzz_on_cpu.py; ``benchmarks/bench_fuzz.py`` runs 100,000 actions.
"""

from __future__ import annotations

import time

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings

import lite_world  # noqa: F401
from lite_world.testing import actions, check_step

VALID = '<tool_call>{"name": "search", "arguments": {"query": ["Bubye River"]}}</tool_call>'
MAX_STEP_S = 5.0  # generous: the machine is shared; bench_fuzz.py reports the real distribution


@pytest.fixture(scope="module")
def fuzz_env(tiny_world, tasks):
    env = gym.make(
        "LiteSearch-v0", world=str(tiny_world), tasks=tasks, search_mode="sparse", search_k=2
    )
    yield env
    env.close()


@settings(
    max_examples=1500,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(action=actions())
def test_any_action_is_an_observation(fuzz_env, action):
    fuzz_env.reset(seed=0)
    t0 = time.perf_counter()
    result = fuzz_env.step(action)
    assert time.perf_counter() - t0 < MAX_STEP_S
    check_step(result)
    if not result[2]:
        check_step(fuzz_env.step(VALID))


def test_the_issue_examples_do_not_raise(fuzz_env):
    """The reproductions from issue 11: mixed-key Python literals, huge integers, surrogates, NUL names."""
    for action in [
        "<tool_call>{'name': 'search', 'arguments': {'query': {1: 2, 'a': 3}}}</tool_call>",
        "<tool_call>{'name': 'search', 'arguments': {'query': [" + "9" * 5000 + "]}}</tool_call>",
        '<tool_call>{"name": "visit", "arguments": {"url": "https://e.org/\\ud800", "goal": "g"}}</tool_call>',
        '<tool_call>{"name": "se\\u0000arch\\ud800", "arguments": {}}</tool_call>',
    ]:
        fuzz_env.reset(seed=0)
        obs, _, _, _, info = fuzz_env.step(action)
        check_step((obs, 0.0, False, False, info))
        assert info["error"] in ("invalid_arguments", "unknown_tool", None, "parse_error")
