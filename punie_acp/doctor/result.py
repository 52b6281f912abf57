"""One finding of `punie doctor`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from punie_acp.settings import Settings

Status = Literal["ok", "warn", "missing"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None  # what to do, when the status is not ok

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Context:
    """What every check may look at: the settings as punie serve would see them, and the environment."""

    settings: Settings
    env: Mapping[str, str]
    cwd: Path
    probe_timeout: float = 30.0
