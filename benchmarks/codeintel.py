"""Code intelligence latency on punie itself: first (server start included) and warm calls, beside grep.

Run: `uv run python benchmarks/codeintel.py`. Drives `LanguageServer` (the tools' engine) against
punie's own pinned `ty server`, and `grep -rn` for the same question (which finds text, not names).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from punie_acp.tools.lsp.hook import pull
from punie_acp.tools.lsp.positions import find_symbol, path_to_uri
from punie_acp.tools.lsp.server import LanguageServer
from punie_acp.tools.lsp.servers import spec_for

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "punie_acp" / "tools" / "edits.py"
SYMBOL = "resolve_or_fail"


async def _timed(server: LanguageServer, method: str, extra: Mapping[str, object]) -> tuple[float, int]:
    text = FILE.read_text()
    at = find_symbol(text, SYMBOL, occurrence=2)
    started = time.perf_counter()
    await server.sync(FILE, text)
    params = {"textDocument": {"uri": path_to_uri(FILE)}, "position": at.as_lsp(), **extra}
    result = await server.request(method, params)
    return time.perf_counter() - started, len(result or [])


def _grep(pattern: str) -> tuple[float, int]:
    started = time.perf_counter()
    out = subprocess.run(["grep", "-rn", "--include=*.py", pattern, str(ROOT / "punie_acp")], capture_output=True)
    return time.perf_counter() - started, len(out.stdout.splitlines())


async def main() -> None:
    spec = spec_for(FILE, None)
    assert spec is not None
    rows: list[tuple[str, float, float, str]] = []
    for method, extra, label, grep_pattern in (
        ("textDocument/definition", {}, "goto_definition", f"def {SYMBOL}"),
        ("textDocument/references", {"context": {"includeDeclaration": True}}, "find_references", SYMBOL),
    ):
        server = LanguageServer(spec, ROOT)
        first, _ = await _timed(server, method, extra)
        warm = min([(await _timed(server, method, extra))[0] for _ in range(5)])
        _, found = await _timed(server, method, extra)
        grep_s, grep_n = _grep(grep_pattern)
        rows.append((label, first, warm, f"{found} result(s); grep: {grep_s * 1000:.0f} ms, {grep_n} line(s)"))
        await server.aclose()
    server = LanguageServer(spec, ROOT)
    original = FILE.read_text()
    version = await server.sync(FILE, original)
    await pull(server, FILE, version)
    started = time.perf_counter()
    broken = original.replace('return f"Created', 'return 1 + f"Created', 1)
    version = await server.sync(FILE, broken, saved=True)
    fresh = await pull(server, FILE, version)
    edit_s = time.perf_counter() - started
    await server.aclose()
    print("| question | first call (start included) | warm call | notes |")
    print("|---|---|---|---|")
    for label, first, warm, note in rows:
        print(f"| {label} | {first * 1000:.0f} ms | {warm * 1000:.1f} ms | {note} |")
    print(f"| edit → fresh diagnostics | – | {edit_s * 1000:.1f} ms | {len(fresh)} diagnostic(s) after the edit |")


if __name__ == "__main__":
    asyncio.run(main())
