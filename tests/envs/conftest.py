"""Fixtures for the ``LiteSearch-v0`` tests.

The envs run on the session's tiny world (``tests/conftest.py``: every paragraph of the first
five MuSiQue questions, built with the real store, MiniLM, FAISS and bm25s) with those five
questions as tasks, so every task is answerable and results are small enough to assert exactly.
The env kwargs are plain values, so async vector workers and subprocesses can rebuild the env.

``gym.make("LiteSearch-v0")`` without arguments (the bundled demo world) is covered where it
needs no world: construction, reset and non-tool steps open nothing.

Test modules define their own small helpers: ``conftest`` is not importable by name when
several directories have one.
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import lite_world  # noqa: F401  (registers LiteSearch-v0)

# Ids of the tiny world's five MuSiQue questions, in file order; their answers: "G. Stanley Hall"
# (alias "Stanley Hall"), "35", "the Anglican Communion", "Victoria Falls", "Avery County".
TASK_IDS = (
    "2hop__150763_14904",
    "4hop1__709382_146811_31223_91015",
    "2hop__6584_6587",
    "2hop__205146_62031",
    "2hop__215852_404718",
)


@pytest.fixture(scope="session")
def tasks(musique) -> list[dict]:
    """The five tiny-world tasks as plain dicts (the demo loader's first five)."""
    from lite_world.tasks import demo_tasks

    out = [t.to_dict() for t in demo_tasks()[: len(musique)]]
    assert tuple(t["id"] for t in out) == TASK_IDS == tuple(q["id"] for q in musique)
    return out


@pytest.fixture(scope="session")
def env_kwargs(tiny_world, tasks) -> dict:
    """Plain-value kwargs of an env over the tiny world."""
    return {"world": str(tiny_world), "tasks": tasks}


@pytest.fixture
def make_env(env_kwargs):
    """``make_env(**kwargs)``: LiteSearch-v0 on the tiny world, closed after the test."""
    envs = []

    def make(**kwargs):
        env = gym.make("LiteSearch-v0", **{**env_kwargs, **kwargs})
        envs.append(env)
        return env

    yield make
    for env in envs:
        env.close()
