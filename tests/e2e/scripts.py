"""Helpers to write model scripts for `--model script:FILE`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_script(directory: Path, responses: list[list[dict[str, Any]]], chunk_delay: float = 0.0) -> str:
    path = directory / "script.json"
    path.write_text(json.dumps({"chunk_delay": chunk_delay, "responses": responses}))
    return f"script:{path}"
