"""Typed stubs of the functions a program may call, from the tools' own signatures.

The stubs serve twice: the model reads them in `run_code`'s description, and Monty's type
checker (ty) checks the program against them before it runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from punie_acp.core.tooling import AgentTool
from punie_acp.tools.codemode.shapes import STUB_TYPES, return_type


def parameters(tool: AgentTool) -> list[inspect.Parameter]:
    """The tool's parameters as the program passes them: all but the leading `RunContext`."""
    return list(inspect.signature(tool.function).parameters.values())[1:]


def _parameter(param: inspect.Parameter) -> str:
    text = f"{param.name}: {param.annotation}"
    if param.default is not inspect.Parameter.empty:
        text += f" = {param.default!r}"
    return text


def _summary(tool: AgentTool) -> str:
    doc = inspect.getdoc(tool.function) or ""
    return doc.split("\n\n")[0].replace("\n", " ").replace('"""', "'''")


def stub(tool: AgentTool) -> str:
    args = ", ".join(_parameter(param) for param in parameters(tool))
    return f'async def {tool.name}({args}) -> {return_type(tool.name)}:\n    """{_summary(tool)}"""\n'


def stubs(tools: Iterable[AgentTool]) -> str:
    return STUB_TYPES + "\n" + "\n".join(stub(tool) for tool in tools)


def bind(tool: AgentTool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The program's positional and keyword arguments as the tool's named arguments.

    Raises `TypeError` (shown in the program) for arguments the function does not take.
    """
    signature = inspect.Signature(parameters(tool))
    bound = signature.bind(*args, **kwargs)
    return dict(bound.arguments)
