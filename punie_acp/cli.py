"""The `punie` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

from punie_acp import __version__
from punie_acp.config import load_settings
from punie_acp.logsetup import configure_logging


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        help="'test' (built-in deterministic model), 'script:FILE', an OpenAI-compatible URL "
        "(http://host:port/v1[/name]), or an mlx model directory / repo id",
    )
    parser.add_argument("--max-tokens", type=int, dest="max_tokens")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--top-p", type=float, dest="top_p")
    parser.add_argument("--draft-model", dest="draft_model", help="mlx draft model for speculative decoding")
    parser.add_argument("--num-draft-tokens", type=int, dest="num_draft_tokens")
    parser.add_argument("--request-limit", type=int, dest="request_limit", help="model requests per prompt")
    parser.add_argument("--tool-calls-limit", type=int, dest="tool_calls_limit", help="tool calls per prompt")
    parser.add_argument(
        "--max-cached-sessions", type=int, dest="max_cached_sessions", help="sessions whose KV cache stays in memory"
    )
    parser.add_argument("--command-timeout", type=float, dest="command_timeout", help="default seconds per command")
    parser.add_argument("--mode", choices=["ask", "auto-edit", "read-only"])
    parser.add_argument("--log-file", dest="log_file", help="log file (default: ~/.local/state/punie/punie.log)")
    parser.add_argument("--log-level", dest="log_level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="punie", description="A local coding agent for your editor (ACP).")
    parser.add_argument("--version", action="version", version=f"punie {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="speak the Agent Client Protocol on stdin/stdout (editors start this)")
    _common(serve)
    ask = sub.add_parser("ask", help="run one prompt in a terminal, without an editor")
    _common(ask)
    ask.add_argument("prompt", help="what to ask")
    ask.add_argument("--cwd", default=os.getcwd(), help="project root (default: the current directory)")
    ask.add_argument(
        "--yes",
        action="store_true",
        help="allow edits and commands without asking (default: refuse them, since no one can be asked)",
    )
    return parser


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    skip = {"command", "prompt", "cwd", "yes"}
    return {k: v for k, v in vars(args).items() if k not in skip and v is not None}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _ask(args)


def _serve(args: argparse.Namespace) -> int:
    # Claim stdout before anything can print to it: from here on it carries protocol only.
    from punie_acp.acp.transport import claim_stdout

    protocol_fd = claim_stdout()
    try:
        settings = load_settings(_flags(args))
    except ValueError as exc:
        print(f"punie: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_file)
    from punie_acp.acp.early import early_start

    # Answers `initialize` while the SDK and PydanticAI import on a thread.
    early = early_start(sys.stdin.fileno(), protocol_fd, settings.max_message_bytes)
    from punie_acp.acp.server import serve_stdio
    from punie_acp.models.base import ModelNotAvailable
    from punie_acp.models.registry import resolve_backend

    try:
        backend = resolve_backend(settings.model, settings)
    except ModelNotAvailable as exc:
        print(f"punie: {exc}", file=sys.stderr)
        return 2
    from punie_acp.tools.children import reaping

    try:
        asyncio.run(reaping(serve_stdio(settings, backend, protocol_fd, early)))
    except KeyboardInterrupt:
        return 130
    return 0


def _ask(args: argparse.Namespace) -> int:
    from punie_acp.headless import run_ask

    try:
        settings = load_settings(_flags(args))
    except ValueError as exc:
        print(f"punie: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_file)
    from punie_acp.tools.children import reaping

    return asyncio.run(reaping(run_ask(settings, args.prompt, args.cwd, allow=args.yes)))
