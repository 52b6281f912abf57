"""Slash commands (`/test`, `/review`, …): each becomes a prompt for the agent, or a direct action.

A command that becomes a prompt runs as an ordinary turn, so its tool calls ask permission per
the mode like any other. `/compact` is the one direct action (the history is compacted now).
Text that starts with `/` but names no command is an ordinary prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

# The file `core/project_notes.py` reads (kept here: that module imports PydanticAI).
NOTES_FILE = "AGENTS.md"

MAX_ARGUMENT_CHARS = 2000


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    # The prompt it stands for; "{arg}" is replaced by what follows the command. None: a direct action.
    prompt: str | None
    input_hint: str | None = None


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "test",
            "Run the project's tests and explain any failures",
            "Run the project's tests with the run_pytest tool. Summarize the result; for each failure, "
            "say what failed and the likely cause. {arg}",
            "optional: which tests",
        ),
        Command(
            "lint",
            "Lint the project and explain the findings",
            "Run the linter with the ruff_check tool on the project. Summarize the findings by file, most "
            "important first. {arg}",
            "optional: which files",
        ),
        Command(
            "typecheck",
            "Type-check the project and explain the errors",
            "Run the type checker with the ty_check tool. Summarize the errors and how to fix them. {arg}",
            "optional: which files",
        ),
        Command(
            "review",
            "Review the current git diff",
            "Review the current uncommitted changes: look at them with the git_diff tool (and read files "
            "for context where needed). Point out bugs, risky changes and missing tests, most important "
            "first. Do not change any file. {arg}",
            "optional: what to focus on",
        ),
        Command(
            "explain",
            "Explain a symbol: what it does and where it is used",
            "Explain `{arg}` in this project: find its definition and its uses with grep, then "
            "say what it does, how it is used and anything surprising. Do not change any file.",
            "the symbol to explain",
        ),
        Command("compact", "Compact the conversation now to free context", None),
        Command(
            "init",
            f"Write {NOTES_FILE}: notes about this project that punie reads in every session",
            f"Explore this project (layout, build, test and lint commands, conventions) and write a concise "
            f"{NOTES_FILE} at the project root for a coding agent working here: how to build, test and lint, "
            f"the layout, and the conventions to follow. If {NOTES_FILE} exists, read it and improve it "
            "rather than starting over. {arg}",
            "optional: what to emphasize",
        ),
    )
}


@dataclass(frozen=True)
class Invocation:
    command: Command
    argument: str

    @property
    def prompt(self) -> str | None:
        if self.command.prompt is None:
            return None
        return self.command.prompt.replace("{arg}", self.argument).strip()


def parse(text: str) -> Invocation | None:
    """The command `text` invokes, or None for an ordinary prompt."""
    stripped = text.lstrip()
    if not stripped.startswith("/"):
        return None
    name = stripped[1:].split(None, 1)[0] if stripped[1:].strip() else ""
    command = COMMANDS.get(name)
    if command is None:
        return None
    argument = stripped[1 + len(name) :].strip()[:MAX_ARGUMENT_CHARS]
    return Invocation(command, argument)


def missing_argument(invocation: Invocation) -> str | None:
    """A one-line message when a command that needs an argument got none."""
    if invocation.command.name == "explain" and not invocation.argument:
        return "/explain needs a symbol: for example /explain parse_config"
    return None
