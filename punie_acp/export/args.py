"""The `punie export` command line (kept free of heavy imports: `punie serve` builds the same parser)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = sub.add_parser(
        "export",
        help="write saved sessions as training data for mlx_lm.lora (chat JSONL)",
        description="Write saved sessions as chat JSONL for mlx_lm.lora: the real tool calls, in the "
        "model's own format through its chat template, and the real tool results. Sessions whose tool "
        "results are missing or were shortened are skipped and counted.",
    )
    export.add_argument("output", nargs="?", help="the file to write, e.g. data/train.jsonl")
    export.add_argument("--project", help="only sessions in this project directory")
    export.add_argument("--since", help="only sessions started on or after this day (YYYY-MM-DD)")
    export.add_argument("--until", help="only sessions started on or before this day (YYYY-MM-DD)")
    export.add_argument("--good-only", action="store_true", help="only sessions marked good (--mark-good)")
    export.add_argument("--force", action="store_true", help="replace the output file if it exists")
    export.add_argument(
        "--tokenizer",
        metavar="MODEL_DIR",
        help="check the file loads and renders with this model's tokenizer through mlx-lm's dataset "
        "loader (default: --model, when that is a local model directory)",
    )
    export.add_argument(
        "--list", action="store_true", help="list the saved sessions the filters select (id, start, mark, title)"
    )
    export.add_argument("--mark-good", nargs="+", metavar="SESSION_ID", help="mark saved sessions good, then stop")
    export.add_argument("--unmark-good", nargs="+", metavar="SESSION_ID", help="take the mark off, then stop")
    export.add_argument("--session-store", help="the session store file (default: the one punie serve uses)")
