"""What is kept beside the session store: `kv-cache/`, the saved KV caches of the mlx backend
(`models/mlx/persist.py`), one file per session and model, named `<session id>.<model>.safetensors`."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def store_path(setting: str) -> Path | None:
    """The store file a `session_store` setting names; None for 'none' (memory only)."""
    if setting.strip().lower() == "none":
        return None
    return Path(setting).expanduser()


def cache_directory(setting: str) -> Path | None:
    path = store_path(setting)
    return None if path is None else caches_beside(path)


def caches_beside(store: Path) -> Path:
    return store.parent / "kv-cache"


def discard_caches(directory: Path, session_id: str) -> None:
    """Remove every saved KV cache of a deleted session."""
    if not _SAFE_ID.fullmatch(session_id):
        return  # never globbed: no file of ours has such a name
    for path in directory.glob(f"{session_id}.*.safetensors"):
        with contextlib.suppress(OSError):
            path.unlink()
