"""A small real tool for the registry tests: exact arithmetic on two numbers.

Importable as ``tests.envs.calculator_tool:Calculator``-style paths need a package; the tests
register it by class or load it by file path instead.
"""

from __future__ import annotations

from typing import Any

from lite_world.tools.base import CallContext, Tool, ToolResult

OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


class Calculator(Tool):
    """``calculator``: ``a op b`` for op in add, sub, mul, div."""

    name = "calculator"
    description = "Compute a op b exactly, for op one of add, sub, mul, div."
    summary = "exact arithmetic on two numbers (add, sub, mul, div)."
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "a": {"type": "number", "description": "First operand."},
            "op": {"type": "string", "enum": list(OPS), "description": "The operation."},
            "b": {"type": "number", "description": "Second operand."},
        },
        "required": ["a", "op", "b"],
    }

    def run(self, arguments: dict[str, Any], context: CallContext) -> ToolResult:
        op = arguments["op"]
        if op not in OPS:
            return ToolResult(
                f"{self.label()} Unknown op {op!r}; use one of {', '.join(OPS)}.",
                error="invalid_arguments",
            )
        value = OPS[op](
            arguments["a"], arguments["b"]
        )  # div by zero raises: the base class reports it
        return ToolResult(f"{arguments['a']} {op} {arguments['b']} = {value}", {"value": value})
