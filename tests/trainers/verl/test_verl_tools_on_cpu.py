"""The search/visit BaseTools, built by verl's YAML loader, answer like LiteSearch-v0."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

pytest.importorskip("verl")

TOOL_CONFIG = (
    Path(__file__).resolve().parents[3] / "trainers" / "verl" / "config" / "tool_config.yaml"
)
MASKED_URL = "https://en.wikipedia.org/wiki/Journal_of_Psychotherapy_Integration"
QUERY = ["Journal of Psychotherapy Integration publisher"]


@pytest.fixture(scope="module")
def tools(tiny_world):
    """``{name: tool}`` from the repo's tool_config.yaml, with $LITE_WORLD = the tiny world."""
    from verl.tools.tool_registry import initialize_tools_from_config

    mp = pytest.MonkeyPatch()
    mp.setenv("LITE_WORLD", str(tiny_world))
    try:
        built = initialize_tools_from_config(str(TOOL_CONFIG))
    finally:
        mp.undo()
    return {t.name: t for t in built}


def _call(tool, parameters, create_kwargs=None):
    async def go():
        iid, created = await tool.create(create_kwargs=create_kwargs or {})
        assert created.is_empty()
        response, reward, metrics = await tool.execute(iid, parameters, agent_data=None)
        assert await tool.calc_reward(iid) == 0.0
        await tool.release(iid)
        assert iid not in tool._masks
        return response.text, reward, metrics

    return asyncio.run(go())


def _env_body(tiny_world, call, mask_urls=()):
    """The text LiteSearch-v0 returns for ``call`` inside ``<tool_response>\\n…\\n</tool_response>``."""
    import gymnasium as gym

    import lite_world  # noqa: F401

    task = {"id": "t", "question": "q", "answers": ["a"], "mask_urls": list(mask_urls)}
    env = gym.make("LiteSearch-v0", world=str(tiny_world), tasks=[task])
    env.reset(seed=0)
    obs, *_ = env.step(f"<tool_call>{json.dumps(call)}</tool_call>")
    env.close()
    assert obs.startswith("<tool_response>\n") and obs.endswith("\n</tool_response>")
    return obs[len("<tool_response>\n") : -len("\n</tool_response>")]


def test_yaml_builds_both_tools_with_the_env_schemas(tools):
    from lite_world.tools.prompts import tool_schemas

    assert sorted(tools) == ["search", "visit"]
    for schema in tool_schemas():
        name = schema["function"]["name"]
        for prop in schema["function"]["parameters"]["properties"].values():
            prop.pop("items", None)  # not representable in verl's schema model
            prop.pop("minItems", None)
        got = tools[name].tool_schema.model_dump(exclude_unset=True, exclude_none=True)
        assert got == schema
        assert tools[name].env_config.max_observation_chars == 20000


def test_search_matches_the_env_and_masks_per_sample(tools, tiny_world):
    text, reward, metrics = _call(tools["search"], {"query": QUERY})
    assert reward == 0.0 and metrics == {"error": "", "masked": 0}
    assert text == _env_body(tiny_world, {"name": "search", "arguments": {"query": QUERY}})
    assert (
        text.startswith(f"A Google search for '{QUERY[0]}' found 10 results:")
        and MASKED_URL in text
    )

    masked, _, metrics = _call(tools["search"], {"query": QUERY[0]}, {"mask_urls": [MASKED_URL]})
    assert metrics == {"error": "", "masked": 1} and MASKED_URL not in masked
    assert masked == _env_body(
        tiny_world, {"name": "search", "arguments": {"query": QUERY}}, [MASKED_URL]
    )


def test_visit_matches_the_env_and_masks_per_sample(tools, tiny_world):
    args = {"url": MASKED_URL, "goal": "who publishes the journal"}
    text, _, metrics = _call(tools["visit"], args)
    assert metrics["error"] == ""
    assert text == _env_body(tiny_world, {"name": "visit", "arguments": args})
    assert text.startswith(
        f"The useful information in {MASKED_URL} for user goal who publishes the journal"
    )
    assert "American Psychological Association" in text

    hidden, _, metrics = _call(
        tools["visit"], args, {"url": MASKED_URL}
    )  # LiteResearcher's key works too
    assert metrics == {"error": "not_found", "masked": 1}
    assert "The provided webpage content could not be accessed." in hidden


def test_bad_arguments_explain_the_format(tools):
    text, _, metrics = _call(tools["search"], {"q": "x"})
    assert (text, metrics["error"]) == (
        "[Search] Invalid request format: missing required argument 'query' (a non-empty list of strings).",
        "invalid_arguments",
    )
    text, _, metrics = _call(tools["visit"], {"url": MASKED_URL})
    assert (text, metrics["error"]) == (
        "[Visit] Invalid request format: missing required argument 'goal' (a string).",
        "invalid_arguments",
    )


def test_unknown_config_key_is_refused():
    from lite_world.errors import ConfigError
    from trainers.verl.tools import LiteSearchTool

    with pytest.raises(
        ConfigError, match=r"Expects LiteSearchConfig fields, actual: unknown \['wrold'\]"
    ):
        LiteSearchTool({"type": "native", "wrold": "demo"}, None)
