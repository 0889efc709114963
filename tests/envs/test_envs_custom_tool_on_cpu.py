"""A user's own tool (a calculator) through the registry: prompt, env, rollout runner, errors.

The verl adapter side is in tests/trainers/verl/test_verl_custom_tool_on_cpu.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gymnasium as gym
import pytest

import lite_world
from lite_world.errors import ConfigError
from lite_world.tools.prompts import system_prompt
from lite_world.tools.registry import register_tool, resolve_tool, tool_names, unregister_tool

SOURCE = Path(__file__).resolve().parent / "calculator_tool.py"
SPEC = "lw_calculator:Calculator"


def call(name: str, **arguments) -> str:
    return (
        "<think>t</think><tool_call>"
        + json.dumps({"name": name, "arguments": arguments})
        + "</tool_call>"
    )


@pytest.fixture
def calculator(tmp_path, monkeypatch):
    """The Calculator class, importable as ``lw_calculator:Calculator`` (as async workers load it)."""
    shutil.copy(SOURCE, tmp_path / "lw_calculator.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    return resolve_tool(SPEC)


@pytest.fixture
def registered(calculator):
    register_tool(calculator)
    yield calculator
    unregister_tool("calculator")


def test_registered_tool_is_listed_in_the_prompt(registered):
    assert "calculator" in tool_names()
    prompt = system_prompt(date=None, tools=("search", "visit", "calculator"))
    assert "You have three tools:\n" in prompt
    assert "- calculator: exact arithmetic on two numbers (add, sub, mul, div).\n" in prompt
    block = prompt[prompt.index("<tools>\n") + 8 : prompt.index("\n</tools>")].splitlines()
    assert [json.loads(line)["function"]["name"] for line in block] == [
        "search",
        "visit",
        "calculator",
    ]
    assert json.loads(block[2]) == registered.schema()


def test_default_prompt_is_unchanged_by_the_registry():
    assert "You have two tools:\n- search: web search" in system_prompt(date=None)


def test_registering_twice_or_a_non_tool_raises(registered):
    class Other(registered):  # same name, another class
        pass

    with pytest.raises(ConfigError, match="'calculator' is already registered"):
        register_tool(Other)
    with pytest.raises(ConfigError, match="Expects a Tool subclass"):
        register_tool(dict)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Expects a new tool name, actual: 'search'"):
        register_tool(type("S", (registered,), {"name": "search"}))


@pytest.mark.parametrize("spec", ["calculator", SPEC])
def test_env_calls_the_tool_and_turns_its_errors_into_observations(
    registered, tiny_world, tasks, spec
):
    env = gym.make("LiteSearch-v0", world=str(tiny_world), tasks=tasks, tools=("search", spec))
    obs, info = env.reset(seed=0)
    assert "- calculator: exact arithmetic" in info["messages"][0]["content"]
    assert "- visit:" not in info["messages"][0]["content"]

    obs, _, _, _, info = env.step(call("calculator", a=2, op="add", b=3))
    assert obs == "<tool_response>\n2 add 3 = 5\n</tool_response>"
    assert (info["tool"], info["error"], info["totals"]["calculator"]) == ("calculator", None, 1)

    obs, _, _, _, info = env.step(call("calculator", a=2, op="add"))
    assert obs == (
        "<tool_response>\n[Calculator] Invalid request format: missing required argument 'b' "
        "(a number).\n</tool_response>"
    )
    assert info["error"] == "invalid_arguments"

    obs, _, terminated, _, info = env.step(call("calculator", a=1, op="div", b=0))
    assert (
        obs
        == "<tool_response>\n[Calculator] Error: ZeroDivisionError: division by zero\n</tool_response>"
    )
    assert (info["error"], terminated) == ("tool_error", False)

    obs, _, _, _, info = env.step(
        call("visit", url="https://en.wikipedia.org/wiki/Publix", goal="x")
    )
    assert (
        obs
        == "<tool_response>\nError: Tool visit not found. Available tools: search, calculator.\n</tool_response>"
    )


def test_module_path_tool_needs_no_registration(calculator, tiny_world, tasks):
    assert "calculator" not in tool_names()
    env = lite_world.make_env(world=str(tiny_world), tasks=tasks, tools=(SPEC,), max_turns=2)
    env.reset(seed=0)
    assert (
        env.step(call("calculator", a=6, op="mul", b=7))[0]
        == "<tool_response>\n6 mul 7 = 42\n</tool_response>"
    )


class CalculatorAgent:
    """Computes, then answers with the observed value."""

    def reset(self, task):
        self.turn = 0

    def act(self, observation, info):
        self.turn += 1
        if self.turn == 1:
            return call("calculator", a=40, op="add", b=2)
        return "<answer>" + observation.split("= ")[-1].split("\n")[0] + "</answer>"


def test_rollout_runner_uses_the_tool(calculator, tiny_world, tmp_path):
    from lite_world.envs.config import LiteSearchConfig
    from lite_world.rollout.runner import RolloutConfig, run_rollouts

    task = {"id": "sum", "question": "What is 40 plus 2?", "answers": ["42"]}
    env = LiteSearchConfig(world=str(tiny_world), tasks=[task], tools=("search", SPEC), max_turns=3)
    summary = run_rollouts(
        CalculatorAgent, RolloutConfig(env=env, show_progress=False), out_dir=tmp_path
    )
    assert summary["accuracy"] == 1.0
    episode = json.loads((tmp_path / "trajectories.jsonl").read_text().splitlines()[0])
    assert episode["steps"][0]["tool"] == "calculator" and episode["steps"][0]["error"] is None
    assert episode["totals"]["calculator"] == 1
