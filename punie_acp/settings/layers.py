"""Putting the layers together, strongest first:

flags > env `PUNIE_*` > the project's `[tool.punie]` (per session) > the user file > defaults.

The server's settings are built once (`load_settings`) and remember which names a flag or the
environment set; each session then lays its project's table beneath exactly those
(`with_project`), so a repository can change what the user left open but never what the user said.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from punie_acp.settings.schema import Settings, stricter, user_config_path
from punie_acp.settings.sources import read_env, read_flags, read_project_table, read_user_file

log = logging.getLogger(__name__)


def load_settings(flags: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    user = read_user_file(user_config_path())
    env = read_env(os.environ if environ is None else environ)
    given = read_flags(flags or {})
    return dataclasses.replace(Settings(), **(user | env | given), explicit=frozenset(env) | frozenset(given))


def with_project(settings: Settings, root: Path) -> Settings:
    project = {k: v for k, v in read_project_table(root).items() if k not in settings.explicit}
    mode = project.pop("mode", None)
    if mode is not None:
        if stricter(mode, than=settings.mode):
            project["mode"] = mode
        elif mode != settings.mode:
            # Never looser than the user's choice: a repository cannot grant itself auto-edit.
            log.warning(
                "%s asks for mode %r; keeping the user's stricter %r", root / "pyproject.toml", mode, settings.mode
            )
    return dataclasses.replace(settings, **project) if project else settings
