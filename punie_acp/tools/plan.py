"""`update_plan`: the agent's task list, shown by the editor (ACP `plan` update)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.events import PlanEntry, PlanUpdated
from punie_acp.core.tooling import AgentTool
from punie_acp.workspace.text import shown_text

MAX_ENTRIES = 50
MAX_ENTRY_CHARS = 300  # one plan line; escapes keep it one line and encodable


class PlanItem(BaseModel):
    content: str = Field(description="What this step does, in a few words")
    status: Literal["pending", "in_progress", "completed"] = "pending"
    priority: Literal["high", "medium", "low"] = "medium"


async def update_plan(ctx: RunContext[ToolContext], entries: list[PlanItem]) -> str:
    """Show or update your plan for this task: the whole list of steps, each with its status.

    Send the complete list every time (it replaces the previous one); mark the step you are
    working on 'in_progress' and finished ones 'completed'.

    Args:
        entries: Every step of the plan, in order.
    """
    items = [e for e in entries if e.content.strip()]
    if not items:
        raise ToolFailed("the plan needs at least one entry with content")
    if len(items) > MAX_ENTRIES:
        raise ToolFailed(f"a plan holds at most {MAX_ENTRIES} entries; merge steps")
    plan = tuple(
        PlanEntry(shown_text(e.content.strip(), MAX_ENTRY_CHARS), status=e.status, priority=e.priority) for e in items
    )
    await ctx.deps.emit(PlanUpdated(plan))
    done = sum(1 for e in plan if e.status == "completed")
    changed = sum(1 for e, shown in zip(items, plan, strict=True) if e.content.strip() != shown.content)
    note = (
        f" {changed} step(s) shown escaped or cut (control characters, bad text, over {MAX_ENTRY_CHARS} chars)."
        if changed
        else ""
    )
    return f"Plan updated: {len(plan)} steps, {done} completed.{note}"


def _title(args: Mapping[str, Any]) -> str:
    return "Update plan"


UPDATE_PLAN = AgentTool(update_plan, kind="think", title=_title)
