"""MCP tool names: every server gets its own `mcp_` prefix, whatever name the editor sent."""

from __future__ import annotations

import re

import pytest

from punie_acp.core.mcp import PREFIX, server_prefix, tool_title
from punie_acp.tools.registry import default_tools


@pytest.mark.parametrize(
    "name",
    ["demo", "../../etc", "x" * 10_000, "", "名前", "read_file", "mcp_demo", "Demo!", "\x00\n\u202e"],
)
def test_a_prefix_is_plain_short_and_starts_with_mcp(name: str) -> None:
    prefix = server_prefix(name, set())
    assert re.fullmatch(r"mcp_[a-z0-9]{1,30}_", prefix)


def test_servers_with_the_same_or_colliding_names_get_distinct_prefixes() -> None:
    taken: set[str] = set()
    prefixes = [server_prefix(n, taken) for n in ("demo", "demo", "Demo", "d e m o", "demo2")]
    assert len(set(prefixes)) == len(prefixes)


def test_a_server_name_cannot_make_another_servers_tool_name() -> None:
    taken: set[str] = set()
    first, second = server_prefix("a", taken), server_prefix("a_b", taken)
    assert first + "b_c" != second + "c"


def test_no_punie_tool_can_be_shadowed() -> None:
    assert not any(tool.name.startswith(PREFIX) for tool in default_tools())
    assert tool_title("read_file") is None and tool_title("mcp_demo_echo") == "MCP tool demo_echo"
