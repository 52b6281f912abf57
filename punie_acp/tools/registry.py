"""The tools a session's agent gets by default."""

from __future__ import annotations

from punie_acp.core.tooling import AgentTool
from punie_acp.tools.codemode import code_tool
from punie_acp.tools.commands import RUN_COMMAND
from punie_acp.tools.edits import EDIT_FILE, WRITE_FILE
from punie_acp.tools.files import LIST_FILES, READ_FILE
from punie_acp.tools.git import GIT_DIFF, GIT_LOG, GIT_STATUS
from punie_acp.tools.lint import RUFF_CHECK, RUFF_FORMAT_DIFF, TY_CHECK
from punie_acp.tools.lsp.tools import CODE_INTEL_TOOLS
from punie_acp.tools.plan import UPDATE_PLAN
from punie_acp.tools.search import GREP
from punie_acp.tools.testing import RUN_PYTEST


def default_tools(style: str = "direct") -> list[AgentTool]:
    """The tools for a tool style: `direct` (each tool), `code` (run_code + the plan), `both`."""
    tools = [READ_FILE, LIST_FILES, GREP, WRITE_FILE, EDIT_FILE, UPDATE_PLAN]
    tools += [RUN_COMMAND, RUFF_CHECK, RUFF_FORMAT_DIFF, TY_CHECK, RUN_PYTEST, GIT_STATUS, GIT_DIFF, GIT_LOG]
    tools += CODE_INTEL_TOOLS
    if style == "direct":
        return tools
    run_code = code_tool(tools)
    if style == "code":
        return [run_code, UPDATE_PLAN]
    return [*tools, run_code]
