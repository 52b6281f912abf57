"""`punie init`: write or merge Punie's entry into Zed's and JetBrains' agent settings.

Exit status: 0 every chosen editor is set up (or already was; with --dry-run: the diff was
shown), 1 at least one file was left alone (the reason on stderr, the snippet to paste on
stdout), 2 a usage or settings error.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from punie_acp.editor_setup import files
from punie_acp.editor_setup.launch import (
    AGENT_NAME,
    EDITORS,
    LABELS,
    EditorId,
    Launch,
    entry,
    is_ephemeral,
    model_argument,
    settings_path,
    this_punie,
    uvx_launch,
)
from punie_acp.editor_setup.merge import MergeRefused, fresh_text, merge


def run(args: argparse.Namespace, model: str) -> int:
    out, err = sys.stdout, sys.stderr
    try:
        launch = uvx_launch() if args.uvx else this_punie()
    except LookupError as exc:
        print(f"punie: {exc}", file=err)
        return 2
    if not args.uvx and is_ephemeral(launch.command):
        print(
            f"punie: note: this punie runs from uv's cache ({launch.command}), which `uv cache clean` removes; "
            "for a lasting entry use --uvx or `uv tool install punie-acp`",
            file=err,
        )
    chosen: tuple[EditorId, ...] = EDITORS if args.editor == "all" else (args.editor,)
    model = model_argument(model, Path.cwd())
    failed = 0
    for editor in chosen:
        failed += not _one(editor, launch, model, os.environ, dry_run=args.dry_run, out=out, err=err)
    return 1 if failed else 0


def _one(
    editor: EditorId, launch: Launch, model: str, env: Mapping[str, str], *, dry_run: bool, out: TextIO, err: TextIO
) -> bool:
    label, path = LABELS[editor], settings_path(editor, env)

    def make(old: Any) -> dict[str, Any]:
        return entry(editor, launch, model, old)

    try:
        target = files.locate(path)
        before = files.read(target)
        new, _ = merge(before.text, AGENT_NAME, make)
    except (files.SetupRefused, MergeRefused) as exc:
        print(f"punie: {label}: left {path} alone: {exc}", file=err)
        print(f"Add this to {path} by hand ({label}):\n{fresh_text(AGENT_NAME, make(None))}", file=out)
        return False
    through = f" (through the link to {target.real})" if target.via_link else ""
    if new == before.text:
        print(f"{label}: {path} already starts this punie", file=out)
        return True
    if dry_run:
        old_name = str(path) if before.raw is not None else "/dev/null"
        diff = difflib.unified_diff(
            before.text.splitlines(keepends=True), new.splitlines(keepends=True), old_name, f"{path} (punie init)"
        )
        out.writelines(line if line.endswith("\n") else line + "\n" for line in diff)
        print(f"{label}: would write {path}{through} (dry run: nothing written)", file=out)
        return True
    try:
        backup = files.replace(target, before, new)
    except files.SetupRefused as exc:
        print(f"punie: {label}: {exc}", file=err)
        return False
    saved = f"; the old file is in {backup}" if backup else ""
    verb = "updated" if before.raw is not None else "created"
    print(f"{label}: {verb} {path}{through}{saved}", file=out)
    return True
