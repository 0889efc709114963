"""A user's tool through the verl adapter: ``LiteTool`` wraps any registry tool."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

pytest.importorskip("verl")

SOURCE = Path(__file__).resolve().parents[2] / "envs" / "calculator_tool.py"


@pytest.fixture
def calculator_spec(tmp_path, monkeypatch):
    shutil.copy(SOURCE, tmp_path / "lw_calculator_verl.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "lw_calculator_verl:Calculator"


def _run(tool, parameters):
    async def go():
        iid, _ = await tool.create(create_kwargs={})
        response, reward, metrics = await tool.execute(iid, parameters)
        await tool.release(iid)
        return response.text, reward, metrics

    return asyncio.run(go())


def test_lite_tool_runs_a_users_tool_with_its_schema(calculator_spec):
    from trainers.verl.tools import LiteTool

    tool = LiteTool({"type": "native", "tool": calculator_spec}, None)
    assert tool.name == "calculator"
    schema = tool.get_openai_tool_schema().model_dump()
    assert schema["function"]["parameters"]["required"] == ["a", "op", "b"]
    assert _run(tool, {"a": 2, "op": "add", "b": 3}) == (
        "2 add 3 = 5",
        0.0,
        {"error": "", "masked": 0},
    )
    text, _, metrics = _run(tool, {"a": 1, "op": "div", "b": 0})
    assert (
        text == "[Calculator] Error: ZeroDivisionError: division by zero"
        and metrics["error"] == "tool_error"
    )
    text, _, metrics = _run(tool, {"a": 1})
    assert text.startswith("[Calculator] Invalid request format: missing required argument 'op'")
    assert metrics["error"] == "invalid_arguments"


def test_fixed_name_adapters_reject_another_tool(calculator_spec):
    from lite_world.errors import ConfigError
    from trainers.verl.tools import LiteSearchTool

    with pytest.raises(ConfigError, match="Expects tool 'search' for this class"):
        LiteSearchTool({"type": "native", "tool": calculator_spec}, None)
