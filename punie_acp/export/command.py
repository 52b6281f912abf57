"""`punie export`: saved sessions as training data for `mlx_lm.lora`, and marking sessions good."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from punie_acp.export.chat import Skip, json_line, to_example
from punie_acp.export.output import OutputError, check_target, write_atomically
from punie_acp.export.select import Filters, is_good, mark, matching, parse_day
from punie_acp.export.tools import tool_schemas
from punie_acp.export.validate import InvalidExport, validate
from punie_acp.store import SessionStore, StoreUnavailable

_T = TypeVar("_T")
NO_HISTORY = "no saved model history"
OTHER_VERSION = "a model history this punie cannot read"


class ExportFailed(Exception):
    """An expected failure: one line for the user, and the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Request:
    """What `punie export` was asked, checked before the store is opened."""

    output: Path
    filters: Filters
    force: bool
    tokenizer: Path | None


def filters_of(args: argparse.Namespace) -> Filters:
    try:
        return Filters(
            project=os.path.abspath(os.path.expanduser(args.project)) if args.project else None,
            since=parse_day(args.since) if args.since else None,
            until=parse_day(args.until, end=True) if args.until else None,
            good_only=args.good_only,
        )
    except ValueError as exc:
        raise ExportFailed(str(exc), 2) from None


def prepare(args: argparse.Namespace, model: str) -> Request:
    if not args.output:
        raise ExportFailed("name the file to write (punie export data/train.jsonl), or use --list / --mark-good", 2)
    output = Path(os.path.abspath(os.path.expanduser(args.output)))
    filters = filters_of(args)
    try:
        check_target(output, args.force)
    except OutputError as exc:
        raise ExportFailed(str(exc), 2) from None
    return Request(output, filters, args.force, _tokenizer_dir(args.tokenizer, model))


def write(request: Request, lines: list[str], skipped: Counter[str]) -> str:
    """Write (after checking with mlx-lm when a tokenizer is known); the summary line."""
    if not lines:
        raise ExportFailed(f"no session to export{_skipped_text(skipped)}")
    tokenizer = request.tokenizer
    try:
        write_atomically(request.output, lines, request.force, lambda path: _check(path, tokenizer))
    except (OutputError, InvalidExport) as exc:
        raise ExportFailed(str(exc)) from None
    checked = f", checked with mlx-lm's loader and {tokenizer}" if tokenizer else ""
    note = "" if tokenizer else " (not checked: pass --tokenizer MODEL_DIR to load it with mlx-lm first)"
    count = len(lines)
    return f"wrote {count} session{_s(count)} to {request.output}{checked}{_skipped_text(skipped)}{note}"


async def examples(store: SessionStore, filters: Filters) -> tuple[list[str], Counter[str]]:
    from pydantic import ValidationError

    from punie_acp.core.keeper import load_history

    lines: list[str] = []
    skipped: Counter[str] = Counter()
    for record in await matching(store, filters):
        raw = await store.history(record.id)
        if raw is None:
            skipped[NO_HISTORY] += 1
            continue
        try:
            example = to_example(load_history(raw))
        except Skip as skip:
            skipped[skip.reason] += 1
            continue
        except (ValidationError, ValueError):
            skipped[OTHER_VERSION] += 1
            continue
        lines.append(json_line(example, tool_schemas(example.called)))
    return lines, skipped


async def mark_sessions(store: SessionStore, good: list[str], not_good: list[str]) -> str:
    done: list[str] = []
    for session_id, value in [*((s, True) for s in good), *((s, False) for s in not_good)]:
        record = await mark(store, session_id, value)
        if record is None:
            raise ExportFailed(f"there is no saved session {session_id!r} (punie lists them in the editor)")
        done.append(f"{session_id} ({record.title or 'untitled'})")
    verb = "marked good" if good else "unmarked"
    return f"{verb}: " + ", ".join(done)


def _tokenizer_dir(given: str | None, model: str) -> Path | None:
    if given:
        path = Path(given).expanduser()
        if not path.is_dir():
            raise ExportFailed(f"--tokenizer {given}: not a directory", 2)
        return path
    candidate = Path(model).expanduser()
    return candidate if "://" not in model and (candidate / "tokenizer_config.json").is_file() else None


def _check(path: Path, tokenizer: Path | None) -> None:
    if tokenizer is not None:
        validate(path, tokenizer)


def _skipped_text(skipped: Counter[str]) -> str:
    if not skipped:
        return ""
    total = sum(skipped.values())
    reasons = ", ".join(f"{count} with {reason}" for reason, count in skipped.most_common())
    return f"; skipped {total} session{_s(total)} ({reasons})"


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def main(args: argparse.Namespace) -> int:
    from punie_acp.config import load_settings
    from punie_acp.store.layout import store_path

    try:
        settings = load_settings({"session_store": args.session_store} if args.session_store else {})
    except ValueError as exc:  # a bad setting: the same one line as every punie command
        print(f"punie: {exc}", file=sys.stderr)
        return 2
    try:
        print(_act(args, settings.model, store_path(settings.session_store)))
    except ExportFailed as exc:
        print(f"punie: {exc}", file=sys.stderr)
        return exc.code
    except StoreUnavailable as exc:
        print(f"punie: {exc}", file=sys.stderr)
        return 1
    return 0


def _act(args: argparse.Namespace, model: str, path: Path | None) -> str:
    marking = bool(args.mark_good or args.unmark_good)
    request = None if marking or args.list else prepare(args, model)
    filters = filters_of(args)
    if path is None or not path.is_file():
        where = "sessions are not kept (--session-store none)" if path is None else f"no session store at {path}"
        raise ExportFailed(f"{where}; nothing to export" if request else f"{where}; no saved sessions")
    if marking:
        return asyncio.run(_with_store(path, lambda s: mark_sessions(s, args.mark_good or [], args.unmark_good or [])))
    if request is None:
        return asyncio.run(_with_store(path, lambda s: listing(s, filters)))
    lines, skipped = asyncio.run(_with_store(path, lambda s: examples(s, filters)))
    return write(request, lines, skipped)


async def listing(store: SessionStore, filters: Filters) -> str:
    """One line per session: id, start (local time), `good` when marked, project, title."""
    rows = []
    for r in await matching(store, filters):
        mark_text = "good" if is_good(r) else "    "
        rows.append(
            f"{r.id}  {r.created_at.astimezone():%Y-%m-%d %H:%M}  {mark_text}  {_shown(r.cwd)}  {_shown(r.title)}"
        )
    return "\n".join(rows) if rows else "no saved session matches"


def _shown(text: str | None) -> str:
    """Stored text on one terminal line: control characters (escape sequences, newlines) as `?`."""
    return "".join(c if c.isprintable() else "?" for c in (text or ""))[:200]


async def _with_store(path: Path, work: Callable[[SessionStore], Awaitable[_T]]) -> _T:
    from punie_acp.store.sqlite import SqliteStore

    store = SqliteStore(path)
    try:
        return await work(store)
    finally:
        await store.aclose()
