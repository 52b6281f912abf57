"""`punie init`'s arguments. Only argparse here: the parser is built on every start of `punie`."""

from __future__ import annotations

from typing import Any

EDITOR_CHOICES = ("zed", "pycharm", "all")


def add_parser(sub: Any) -> None:
    init = sub.add_parser(
        "init",
        help="add punie to Zed's and PyCharm's agent settings (merging, with a backup)",
        description="Write or merge the 'Punie' entry under agent_servers in Zed's settings.json and "
        "~/.jetbrains/acp.json. Other agents and settings, comments included, are kept; the old file "
        "is kept as a backup. Exit status: 0 done, 1 a file was left alone (the snippet is printed), 2 usage.",
    )
    init.add_argument("--editor", choices=EDITOR_CHOICES, default="all", help="which editor (default: all)")
    init.add_argument("--dry-run", action="store_true", help="show the change as a diff; write nothing")
    init.add_argument(
        "--model", help="the model the editor starts punie with (default: your configured model, as in punie serve)"
    )
    init.add_argument(
        "--uvx",
        action="store_true",
        help="start punie with `uvx --from punie-acp==VERSION punie` instead of this installation's path",
    )
