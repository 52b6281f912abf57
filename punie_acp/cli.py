"""The `punie` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from punie_acp import __version__
from punie_acp.config import load_settings
from punie_acp.doctor.options import add_parser as add_doctor
from punie_acp.editor_setup.options import add_parser as add_init
from punie_acp.headless.options import EPILOG, OWN, add_arguments, policy_of
from punie_acp.logsetup import configure_logging
from punie_acp.settings import SPECS, Settings, Spec
from punie_acp.settings.kinds import Choice, Switch

_GROUPS = {
    "model": "model",
    "generation": "generation (per request; a project's [tool.punie] may set these)",
    "limits": "limits",
    "session": "session policy (a project may set mode, stricter only, and command-timeout)",
    "sessions": "saved sessions (kept across restarts)",
    "logging": "logging",
}


def _flag_type(spec: Spec) -> Callable[[str], object]:
    def parse(raw: str) -> object:
        try:
            return spec.kind.parse(raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _default_text(name: str) -> str:
    value = getattr(Settings(), name)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _common(parser: argparse.ArgumentParser) -> None:
    """One flag per setting, with its help and default; absent flags stay None (not explicit)."""
    groups = {key: parser.add_argument_group(title) for key, title in _GROUPS.items()}
    for name, spec in SPECS.items():
        flag = "--" + name.replace("_", "-")
        help_text = f"{spec.help} (default: {_default_text(name)}; env PUNIE_{name.upper()})".replace("%", "%%")
        group = groups[spec.group]
        if isinstance(spec.kind, Switch):
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            choices = spec.kind.options if isinstance(spec.kind, Choice) else None
            metavar = "{" + ",".join(choices) + "}" if choices else name.upper()
            group.add_argument(flag, dest=name, type=_flag_type(spec), metavar=metavar, help=help_text)


_EPILOG = (
    "Settings, strongest first: these flags, environment variables PUNIE_<NAME>, the project's "
    "pyproject.toml [tool.punie] (generation and session policy only), the user file "
    "$XDG_CONFIG_HOME/punie/config.toml (~/.config/punie/config.toml), the defaults shown."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="punie", description="A local coding agent for your editor (ACP).")
    parser.add_argument("--version", action="version", version=f"punie {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve", help="speak the Agent Client Protocol on stdin/stdout (editors start this)", epilog=_EPILOG
    )
    _common(serve)
    ask = sub.add_parser("ask", help="run one prompt in a terminal, without an editor", epilog=EPILOG + _EPILOG)
    _common(ask)
    add_arguments(ask)
    add_init(sub)
    add_doctor(sub)
    from punie_acp.evaluation.command import add_eval_parser

    add_eval_parser(sub, _common, _EPILOG)
    from punie_acp.export.args import add_parser as add_export

    add_export(sub)
    return parser


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    skip = {"command", *OWN}
    return {k: v for k, v in vars(args).items() if k not in skip and v is not None}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "init":
        return _init(args)
    if args.command == "doctor":
        return _doctor(args)
    if args.command == "eval":
        from punie_acp.evaluation.command import main_eval

        return main_eval(args)
    if args.command == "export":
        from punie_acp.export.command import main as export

        return export(args)
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
    if sys.stdin.isatty():
        # Someone typed `punie serve` in a terminal: say what it waits for.
        print(
            "punie serve speaks the Agent Client Protocol on stdin and waits for an editor to start it; "
            'to try punie in a terminal, run: punie ask "your question"',
            file=sys.stderr,
        )
    from punie_acp.acp.early import early_start

    # Answers `initialize` while the SDK and PydanticAI import on a thread.
    early = early_start(sys.stdin.fileno(), protocol_fd, settings.max_message_bytes)
    from punie_acp.acp.server import serve_stdio
    from punie_acp.models.base import ModelBackend, ModelNotAvailable, UnavailableBackend
    from punie_acp.models.registry import resolve_backend

    backend: ModelBackend
    try:
        backend = resolve_backend(settings.model, settings)
    except ModelNotAvailable as exc:
        # `initialize` may already be answered: exiting now would look like a crash to the
        # editor. Serve on; every prompt fails with this message, where the user looks.
        print(f"punie: {exc}", file=sys.stderr)
        backend = UnavailableBackend(str(exc))
    from punie_acp.tools.children import reaping

    try:
        asyncio.run(reaping(serve_stdio(settings, backend, protocol_fd, early)))
    except KeyboardInterrupt:
        return 130
    return 0


def _ask(args: argparse.Namespace) -> int:
    from punie_acp.headless.run import run_ask

    policy, mode = policy_of(args)
    flags = _flags(args) | ({"mode": mode} if mode else {})
    try:
        settings = load_settings(flags)
    except ValueError as exc:
        print(f"punie: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_file)
    from punie_acp.tools.children import reaping

    cwd = os.path.abspath(os.path.expanduser(args.cwd))  # the core wants an absolute root
    try:
        return asyncio.run(reaping(run_ask(settings, args.prompt, cwd, policy=policy, json_events=args.json_events)))
    except KeyboardInterrupt:
        return 130


def _init(args: argparse.Namespace) -> int:
    from punie_acp.editor_setup.command import run

    try:
        model = args.model or load_settings({}).model
    except ValueError as exc:
        print(f"punie: {exc}", file=sys.stderr)
        return 2
    return run(args, model)


def _doctor(args: argparse.Namespace) -> int:
    from punie_acp.doctor.command import run

    try:
        settings = load_settings({"model": args.model} if args.model else {})
    except ValueError as exc:
        print(f"punie: {exc}", file=sys.stderr)
        return 2
    return run(args, settings)
