"""`punie doctor`'s arguments. Only argparse here: the parser is built on every start of `punie`."""

from __future__ import annotations

from typing import Any


def add_parser(sub: Any) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="check this machine for punie: mlx backend, memory, models, language servers, editor configs",
        description="Each finding is ok, warn or missing, with what to do. Exit status 0 when the checks ran.",
    )
    doctor.add_argument("--json", dest="json_report", action="store_true", help="one JSON object, for scripts")
    doctor.add_argument("--model", help="check this model instead of the configured one")
    doctor.add_argument(
        "--probe-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="longest wait for the mlx probe (default 30)",
    )
