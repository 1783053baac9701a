"""Arithmetic for the model, without `eval`.

Why an AST walk over an allow-list: `eval` of model or user text is remote code execution
(Langflow CVE-2025-3248, n8n CVE-2025-68613), and even "safe" arithmetic can hang a worker
(`9**9**9`). So only numbers, a few operators and named functions are evaluated, and every
intermediate result is bounded.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from services.tools.base import ToolContext, ToolError, ToolSpec

Number = int | float

MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 1000
MAX_MAGNITUDE = 1e308
MAX_ROUND_DIGITS = 100


def _power(base: Number, exponent: Number) -> Number:
    if abs(exponent) > MAX_EXPONENT:
        raise ToolError(f"Exponent {exponent} is too large (limit {MAX_EXPONENT})")
    if abs(base) > 1 and exponent > 0 and exponent * math.log10(abs(base)) > 308:
        raise ToolError("The result is too large (limit 1e308)")
    return base**exponent


def _round(value: Number, digits: Number = 0) -> Number:
    if not isinstance(digits, int) or abs(digits) > MAX_ROUND_DIGITS:
        raise ToolError(f"round() digits must be a whole number within ±{MAX_ROUND_DIGITS}")
    return round(value, digits) if digits else round(value)


BINARY_OPERATORS: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
UNARY_OPERATORS: dict[type[ast.unaryop], Callable[[Number], Number]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
FUNCTIONS: dict[str, Callable[..., Number]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": _round,
    "min": min,
    "max": max,
    "log": math.log,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


class Calculator:
    spec = ToolSpec(
        name="calculator",
        description=(
            "Evaluate an arithmetic expression exactly. Supports numbers, + - * / // % **, "
            "parentheses, sqrt, abs, round, min, max, log (natural, or log(x, base)), "
            "sin, cos, tan (radians) and the constants pi and e."
        ),
        parameters={
            "type": "object",
            "properties": {
                "expression": {
                    "type": "string",
                    "description": "For example: (2 + 3) * sqrt(16) / 4",
                }
            },
            "required": ["expression"],
            "additionalProperties": False,
        },
    )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        expression = args.get("expression")
        if not isinstance(expression, str) or not expression.strip():
            raise ToolError("'expression' is required: an arithmetic expression as a string")
        return {"expression": expression, "result": evaluate(expression)}


def evaluate(expression: str) -> Number:
    """The value of `expression`, or ToolError saying what to change."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"The expression is too long (limit {MAX_EXPRESSION_CHARS} characters)")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ToolError(f"Not a valid arithmetic expression: {expression!r}") from None
    try:
        return _evaluate(tree.body)
    except ZeroDivisionError:
        raise ToolError("Division by zero") from None
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ToolError(f"Cannot evaluate {expression!r}: {exc}") from None
    except RecursionError:
        raise ToolError("The expression is nested too deeply") from None


def _evaluate(node: ast.AST) -> Number:
    return _bounded(_evaluate_node(node))


def _evaluate_node(node: ast.AST) -> Number:
    match node:
        case ast.Constant(value=int() | float() as value) if type(value) in (int, float):
            return value
        case ast.Constant(value=value):
            raise ToolError(f"Only numbers are allowed, not {value!r}")
        case ast.BinOp(op=ast.BitXor()):
            raise ToolError("'^' is not a power here; write powers with ** (e.g. 2 ** 3)")
        case ast.BinOp(left=left, op=op, right=right) if type(op) in BINARY_OPERATORS:
            return BINARY_OPERATORS[type(op)](_evaluate(left), _evaluate(right))
        case ast.UnaryOp(op=op, operand=operand) if type(op) in UNARY_OPERATORS:
            return UNARY_OPERATORS[type(op)](_evaluate(operand))
        case ast.Call(func=ast.Name(id=name), args=call_args, keywords=[]) if name in FUNCTIONS:
            if any(isinstance(arg, ast.Starred) for arg in call_args):
                raise ToolError("Argument unpacking (*) is not allowed")
            return FUNCTIONS[name](*(_evaluate(arg) for arg in call_args))
        case ast.Call():
            raise ToolError(f"Only these functions are allowed: {', '.join(FUNCTIONS)}")
        case ast.Name(id=name) if name in CONSTANTS:
            return CONSTANTS[name]
        case ast.Name(id=name):
            raise ToolError(
                f"Unknown name {name!r}; allowed functions: {', '.join(FUNCTIONS)}; "
                f"constants: {', '.join(CONSTANTS)}"
            )
        case ast.Attribute():
            raise ToolError("Attribute access is not allowed in a calculation")
        case _:
            raise ToolError(f"{type(node).__name__} is not allowed in a calculation")


def _bounded(value: object) -> Number:
    # bool is an int subclass: True + True must not count as a number result.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError(f"The result is not a real number ({value!r})")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("The result is not a finite number")
    if abs(value) > MAX_MAGNITUDE:
        raise ToolError("The result is too large (limit 1e308)")
    return value
