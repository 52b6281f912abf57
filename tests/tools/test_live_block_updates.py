"""`ToolProgress.block`: a live block replaced in place in the ACP tool-call content."""

from __future__ import annotations

from pathlib import Path

from punie_acp.acp.updates import UpdateMapper
from punie_acp.core.events import DiffContent, TextContent, ToolFinished, ToolProgress, ToolStarted


def texts(update: object) -> list[str]:
    content = getattr(update, "content", None) or []
    return [c.content.text if c.type == "content" else c.type for c in content]


def test_live_block_replaces_in_place_and_clears() -> None:
    mapper = UpdateMapper()
    mapper.map(ToolStarted("c1", "run_command", "execute", "Run", {}))
    diff = DiffContent(Path("/p/a.py"), "a", "b")
    assert texts(mapper.map(ToolProgress("c1", content=(diff,)))) == ["diff"]
    live1 = mapper.map(ToolProgress("c1", content=(TextContent("out 1"),), block="output"))
    assert texts(live1) == ["diff", "out 1"]
    live2 = mapper.map(ToolProgress("c1", content=(TextContent("out 1\nout 2"),), block="output"))
    assert texts(live2) == ["diff", "out 1\nout 2"]
    # Appended content goes after the block; the block keeps its place when replaced again.
    mapper.map(ToolProgress("c1", content=(TextContent("note"),)))
    live3 = mapper.map(ToolProgress("c1", content=(TextContent("out 3"),), block="output"))
    assert texts(live3) == ["diff", "out 3", "note"]
    # Empty content removes the block, and the update says so (an explicit list, not "unchanged").
    cleared = mapper.map(ToolProgress("c1", block="output"))
    assert texts(cleared) == ["diff", "note"]
    done = mapper.map(ToolFinished("c1", ok=True, raw_output="result", content=(TextContent("result"),)))
    assert texts(done) == ["diff", "note", "result"]


def test_clearing_the_only_block_sends_an_empty_list() -> None:
    mapper = UpdateMapper()
    mapper.map(ToolStarted("c2", "run_command", "execute", "Run", {}))
    mapper.map(ToolProgress("c2", content=(TextContent("x"),), block="output"))
    cleared = mapper.map(ToolProgress("c2", block="output"))
    assert cleared is not None and getattr(cleared, "content", None) == []
    untouched = mapper.map(ToolProgress("c2", started=True))
    assert getattr(untouched, "content", "missing") is None  # nothing changed: content left alone
