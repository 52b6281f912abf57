"""Editor configs: found where `punie init` writes them, and whether they start this punie."""

from __future__ import annotations

import itertools
import os
from typing import Any

from punie_acp.doctor.result import Check, Context
from punie_acp.editor_setup import files
from punie_acp.editor_setup.jsonc import JsoncError, parse
from punie_acp.editor_setup.launch import AGENT_NAME, EDITORS, LABELS, EditorId, settings_path, this_punie


def editor_checks(ctx: Context) -> list[Check]:
    return [_editor(editor, ctx) for editor in EDITORS]


def _editor(editor: EditorId, ctx: Context) -> Check:
    name, path = f"{LABELS[editor]} config", settings_path(editor, ctx.env)
    fix = f"punie init --editor {editor}"
    try:
        snapshot = files.read(files.locate(path))
    except files.SetupRefused as exc:
        return Check(name, "warn", str(exc), f"fix the file, or add the snippet that `{fix} --dry-run` shows")
    if snapshot.raw is None:
        return Check(name, "missing", f"{path} does not exist", fix)
    try:
        root = parse(snapshot.text).root
    except JsoncError as exc:
        return Check(name, "warn", f"{path} is not valid JSON: {exc}", "fix the file, then run " + fix)
    entry = _entry(root.value if root is not None else None)
    if entry is None:
        return Check(name, "missing", f"{path} has no {AGENT_NAME} entry under agent_servers", fix)
    return _points_here(name, path, entry, fix)


def _entry(document: Any) -> dict[str, Any] | None:
    servers = document.get("agent_servers") if isinstance(document, dict) else None
    entry = servers.get(AGENT_NAME) if isinstance(servers, dict) else None
    return entry if isinstance(entry, dict) else None


def _points_here(name: str, path: os.PathLike[str], entry: dict[str, Any], fix: str) -> Check:
    command, args = entry.get("command"), entry.get("args")
    here = this_punie()
    if not isinstance(command, str) or not isinstance(args, list):
        return Check(name, "warn", f"{path}: the {AGENT_NAME} entry has no command and args", fix)
    model = _model_of(args)
    if command == here.command and list(args[: len(here.args)]) == list(here.args):
        return Check(name, "ok", f"{path} starts this punie ({command}), model {model}")
    if os.path.basename(command) == "uvx":
        return Check(name, "ok", f"{path} starts punie through uvx ({' '.join(map(str, args[:3]))}), model {model}")
    if not os.path.isabs(command):
        detail = f"{path} starts {command!r}, found only through the editor's PATH, not this punie ({here.command})"
        return Check(name, "warn", detail, fix)
    if not os.access(command, os.X_OK):
        return Check(name, "warn", f"{path} starts {command}, which does not exist or cannot run", fix)
    return Check(name, "warn", f"{path} starts another punie ({command}), not this one ({here.command})", fix)


def _model_of(args: list[Any]) -> str:
    for flag, value in itertools.pairwise(args):
        if flag == "--model":
            return str(value)
    return "(the configured default)"
