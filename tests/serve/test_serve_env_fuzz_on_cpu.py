"""Property-based fuzz of ``env.step`` through a served world (RemoteWorld over real HTTP).

The local twin is tests/envs/test_envs_fuzz_on_cpu.py. Every generated turn must give a clean
observation; surrogates and NUL in URLs and queries cross the wire without raising.
"""

from __future__ import annotations

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings

import lite_world  # noqa: F401
from lite_world.testing import actions, check_step

TASK = {
    "id": "t",
    "question": "Where is the Bubye River?",
    "answers": ["Zimbabwe"],
    "mask_urls": ["https://en.wikipedia.org/wiki/Bubye_River"],
}


@pytest.fixture(scope="module")
def served_env(remote):
    env = gym.make("LiteSearch-v0", world=remote, tasks=[TASK], search_k=2)
    yield env
    env.close()


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(action=actions())
def test_any_action_through_the_service_is_an_observation(served_env, action):
    served_env.reset(seed=0)
    check_step(served_env.step(action))


def test_lone_surrogate_url_and_query_cross_the_wire(served_env):
    served_env.reset(seed=0)
    obs, _, _, _, info = served_env.step(
        '<tool_call>{"name": "visit", "arguments": {"url": "https://en.wikipedia.org/wiki/\\ud800", "goal": "x"}}'
        "</tool_call>"
    )
    check_step((obs, 0.0, False, False, info))
    assert "could not be accessed" in obs and info["error"] is None
    obs, _, _, _, info = served_env.step(
        '<tool_call>{"name": "search", "arguments": {"query": ["Bubye\\ud800 River\\u0000"]}}</tool_call>'
    )
    check_step((obs, 0.0, False, False, info))
    assert obs.startswith("<tool_response>\nA Google search for 'Bubye? River' found 2 results:")
    assert "wiki/Bubye_River)" not in obs  # the mask holds through the service
