"""`punie ask`'s own arguments (the settings' flags come from the settings schema). Only argparse
here: the parser is built on every start of `punie`."""

from __future__ import annotations

import argparse
import os
from typing import Literal

Policy = Literal["ask", "auto-edit", "read-only", "yes"]
POLICIES: tuple[Policy, ...] = ("ask", "auto-edit", "read-only", "yes")

# What each policy makes the session's mode; `yes` keeps the mode (--mode, or the default `ask`)
# and answers every question with yes.
_MODES: dict[Policy, str | None] = {"ask": "ask", "auto-edit": "auto-edit", "read-only": "read-only", "yes": None}
OWN = frozenset({"prompt", "cwd", "policy", "json_events"})

EPILOG = (
    "Exit status: 0 done, 1 the turn failed or stopped early, 2 usage or setup error (nothing ran), "
    "3 an edit or command was refused, 130 cancelled (Ctrl-C). "
)


def add_arguments(ask: argparse.ArgumentParser) -> None:
    ask.add_argument("prompt", help="what to ask")
    ask.add_argument("--cwd", default=os.getcwd(), help="project root (default: the current directory)")
    who = ask.add_mutually_exclusive_group()
    who.add_argument(
        "--policy",
        choices=POLICIES,
        help="who allows edits and commands: ask (a y/n question on this terminal; refused when there is "
        "no terminal), auto-edit (edits allowed, commands asked), read-only (none), yes (all, without asking). "
        "Default: ask, in the mode --mode sets",
    )
    who.add_argument("--yes", dest="policy", action="store_const", const="yes", help="the same as --policy yes")
    ask.add_argument(
        "--json",
        dest="json_events",
        action="store_true",
        help="print one JSON object per event on stdout (text, thoughts, tools, permissions, the end)",
    )


def policy_of(args: argparse.Namespace) -> tuple[Policy, str | None]:
    """(the policy, the mode it sets or None) for these arguments."""
    policy: Policy = args.policy or "ask"
    return policy, _MODES[policy] if args.policy else None
