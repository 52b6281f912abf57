"""The sandbox's runtime on its own: the escape battery with the type checker off."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from punie_acp.tools.codemode.sandbox import Limits, run_program
from tests.security.test_codemode_escapes import ESCAPES

pytestmark = pytest.mark.anyio

LIMITS = Limits(seconds=2.0, memory_bytes=64 << 20, max_calls=5, output_bytes=1 << 20)
# Escapes that need the tool functions (they are shown through the real server instead).
NEEDS_TOOLS = {"read outside the root", "command the user rejects", "too many calls"}


async def test_the_runtime_holds_without_the_type_checker(tmp_path: Path) -> None:
    marker = f"{tmp_path}/PWNED"
    wrong = []
    for name, code, _ in ESCAPES:
        if name in NEEDS_TOOLS:
            continue
        program = code.replace("SECRET_FILE", "/etc/passwd").replace("MARKER", marker)
        program = program.replace("PAYLOAD", f"touch {marker}")
        outcome = await run_program(program, {}, "", LIMITS, anyio.CancelScope(), type_check=False)
        if outcome.status not in ("failed", "not_run") or "root:" in outcome.text:
            wrong.append(f"{name}: {outcome.status} {outcome.text[-300:]}")
    assert not wrong, "\n".join(wrong)
    assert not await anyio.Path(marker).exists()


async def test_a_program_returns_structured_values() -> None:
    outcome = await run_program(
        "data = {'a': [1, 2, 3], 'b': None}\n[k for k, v in data.items() if v]",
        {},
        "",
        LIMITS,
        anyio.CancelScope(),
    )
    assert (outcome.status, outcome.text) == ("ok", '["a"]')


async def test_type_errors_are_reported_before_the_program_runs() -> None:
    ran: list[str] = []

    async def note(text: str) -> str:
        ran.append(text)
        return text

    stubs = "async def note(text: str) -> str: ...\n"
    outcome = await run_program(
        "await note('first')\nx: int = await note(3)", {"note": note}, stubs, LIMITS, anyio.CancelScope()
    )
    assert outcome.status == "not_run"
    assert "invalid-argument-type" in outcome.text and "program.py:2" in outcome.text
    assert ran == []
