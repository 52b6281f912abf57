"""Language servers, the log and session-store locations, and the ACP SDK version."""

from __future__ import annotations

import os
import shutil
from importlib import metadata
from pathlib import Path

from punie_acp import __version__
from punie_acp.doctor.result import Check, Context
from punie_acp.tools.lsp.servers import parse_servers
from punie_acp.tools.toolchain import pinned_program

# Servers people often have, shown so they know what `--language-servers` could use.
KNOWN_SERVERS = {
    "rust-analyzer": ".rs=rust-analyzer",
    "typescript-language-server": ".ts,.tsx,.js,.jsx=typescript-language-server --stdio",
    "gopls": ".go=gopls",
    "basedpyright-langserver": ".py=basedpyright-langserver --stdio",
    "pyright-langserver": ".py=pyright-langserver --stdio",
    "clangd": ".c,.h,.cpp=clangd",
}


def language_server_checks(ctx: Context) -> list[Check]:
    ty = pinned_program("ty")
    checks = [
        Check("language server: ty", "ok", f"{ty.argv[0]} (punie's own, for Python)")
        if ty is not None
        else Check("language server: ty", "missing", "punie's ty is not installed", "reinstall punie (uv sync)")
    ]
    try:
        configured = parse_servers(ctx.settings.language_servers)
    except ValueError as exc:
        return [
            *checks,
            Check("language servers setting", "warn", str(exc), "fix --language-servers / language_servers"),
        ]
    for ext, argv in sorted(configured.items()):
        found = shutil.which(argv[0], path=ctx.env.get("PATH"))
        name = f"language server: {ext}"
        if found is None:
            checks.append(
                Check(name, "missing", f"{argv[0]!r} is not on PATH", f"install {argv[0]} or change language_servers")
            )
        else:
            checks.append(Check(name, "ok", f"{found} (from language_servers)"))
    unused = [hint for program, hint in KNOWN_SERVERS.items() if shutil.which(program, path=ctx.env.get("PATH"))]
    if unused and not configured:
        checks.append(
            Check(
                "other language servers",
                "ok",
                "on PATH, not configured: " + ", ".join(h.split("=")[1].split()[0] for h in unused),
                f"to use them: --language-servers '{'; '.join(unused)}'",
            )
        )
    return checks


def location_checks(ctx: Context) -> list[Check]:
    log_file = ctx.settings.log_file
    store = ctx.settings.session_store
    checks = [_writable("log file", Path(log_file).expanduser(), "--log-file or PUNIE_LOG_FILE")]
    if store.lower() == "none":
        checks.append(Check("session store", "ok", "none: sessions are kept in memory only"))
    else:
        checks.append(_writable("session store", Path(store).expanduser(), "--session-store or PUNIE_SESSION_STORE"))
    return checks


def _writable(name: str, path: Path, how: str) -> Check:
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # punie creates the missing part
    if os.access(folder, os.W_OK | os.X_OK) and (not path.exists() or os.access(path, os.W_OK)):
        return Check(name, "ok", str(path))
    return Check(name, "warn", f"{path} cannot be written", f"make it writable or choose another place ({how})")


def sdk_checks(ctx: Context) -> list[Check]:
    try:
        sdk = metadata.version("agent-client-protocol")
    except metadata.PackageNotFoundError:
        return [Check("ACP SDK", "missing", "agent-client-protocol is not installed", "reinstall punie (uv sync)")]
    return [Check("ACP SDK", "ok", f"agent-client-protocol {sdk} (protocol version 1); punie {__version__}")]
