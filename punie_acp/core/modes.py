"""Session modes: how much the agent may change without asking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ModeId = Literal["ask", "auto-edit", "read-only"]
ActionCategory = Literal["edit", "execute"]


@dataclass(frozen=True)
class Mode:
    id: ModeId
    name: str
    description: str
    # For each category: "ask" the user, "allow" without asking, or "deny" outright.
    edit: Literal["ask", "allow", "deny"]
    execute: Literal["ask", "allow", "deny"]

    def policy(self, category: ActionCategory) -> Literal["ask", "allow", "deny"]:
        return self.edit if category == "edit" else self.execute


MODES: dict[str, Mode] = {
    m.id: m
    for m in (
        Mode("ask", "Ask", "Ask before every edit and command", edit="ask", execute="ask"),
        Mode("auto-edit", "Auto-edit", "Edit files without asking; ask before commands", edit="allow", execute="ask"),
        Mode("read-only", "Read-only", "Read and search only: no edits, no commands", edit="deny", execute="deny"),
    )
}
DEFAULT_MODE: ModeId = "ask"
