"""Batched searches for many envs' next steps (:func:`lite_world.envs.prefetch.prefetch_searches`):
one encoder pass fills the world's caches, and every step's observation is what it would have
been without it."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lite_world.envs.prefetch import prefetch_searches

BUBYE_URL = "https://en.wikipedia.org/wiki/Bubye_River"
ACTIONS = [
    '<tool_call>{"name": "search", "arguments": {"query": ["Bubye River", "Limpopo"]}}</tool_call>',
    '<tool_call>{"name": "search", "arguments": {"query": "Bubye River"}}</tool_call>',
    "<tool_call>"
    + json.dumps({"name": "visit", "arguments": {"url": [BUBYE_URL], "goal": "x"}})
    + "</tool_call>",
    "<answer>Victoria Falls</answer>",
    "no tool call at all",
    '<tool_call>{"name": "search", "arguments": {"query": 7}}</tool_call>',
    '<tool_call>{"name": "search", "arguments": {"query": ["  ", "Zimbabwe waterfall"]}}'
    "</tool_call>",
]


def _episodes(make_env, tasks, n):
    envs = [make_env(max_observation_chars=100_000) for _ in range(n)]
    for i, env in enumerate(envs):
        masked = {**tasks[3], "id": "masked-bubye", "mask_urls": [BUBYE_URL]}
        env.reset(seed=i, options={"task": masked})
    return envs


def _world(envs):
    return envs[0].unwrapped.world


def test_prefetched_steps_observe_exactly_what_plain_steps_observe(make_env, tasks):
    plain = _episodes(make_env, tasks, len(ACTIONS))
    _world(plain).clear_caches()
    expected = [env.step(a)[0] for env, a in zip(plain, ACTIONS, strict=True)]
    searcher = _world(plain).searcher

    batched = _episodes(make_env, tasks, len(ACTIONS))
    _world(batched).clear_caches()
    encoded = prefetch_searches(batched, ACTIONS)
    assert encoded == 3  # "bubye river", "limpopo", "zimbabwe waterfall": once each
    misses = searcher.result_cache.misses
    observed = [env.step(a)[0] for env, a in zip(batched, ACTIONS, strict=True)]
    assert observed == expected
    assert BUBYE_URL not in "".join(observed[:2])  # still masked
    assert searcher.result_cache.misses == misses  # every step's search hit the cache
    assert prefetch_searches(batched, ACTIONS) == 0  # ended or already cached


def test_envs_that_cannot_search_are_skipped(make_env, tasks):
    fresh = make_env()  # not reset: its step would say so
    ended = _episodes(make_env, tasks, 1)[0]
    ended.step("<answer>x</answer>")
    assert prefetch_searches([fresh, ended, object()], [ACTIONS[0]] * 3) == 0
    with pytest.raises(ValueError):
        prefetch_searches([fresh], [])  # one action per env


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=4))
def test_any_strings_are_safe(make_env_once, tasks, texts):
    envs = make_env_once
    actions = [json.dumps(t) if i % 2 else t for i, t in enumerate(texts)]
    actions = [
        f'<tool_call>{{"name": "search", "arguments": {{"query": {a}}}}}</tool_call>'
        if i % 3 == 0
        else a
        for i, a in enumerate(actions)
    ]
    n = prefetch_searches(envs[: len(actions)], actions)
    assert 0 <= n <= 10 * len(actions)


@pytest.fixture
def make_env_once(make_env, tasks):
    return _episodes(make_env, tasks, 4)
