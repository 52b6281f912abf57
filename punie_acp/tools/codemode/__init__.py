"""Code mode: the model writes one short Python program that calls the workspace tools as
functions, run in the Monty sandbox (see `tool.py`)."""

from punie_acp.tools.codemode.tool import code_tool

__all__ = ["code_tool"]
