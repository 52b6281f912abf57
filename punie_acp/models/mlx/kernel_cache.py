"""Where mlx's CUDA backend keeps the kernels it compiles: the user's own cache, not /tmp.

mlx-cuda compiles many kernels at run time (NVRTC) and keeps the results on disk, by default in
`<tmp>/mlx/<version>/ptx`. Two things are wrong with that default for punie:
- many systems empty /tmp at boot (or keep it in memory), so the first start after a reboot
  compiles everything again: measured on an H200, the warm-up took 13 s with an empty cache and
  0.5 s with a full one, and the first long prompt stalled another 0.45 s;
- /tmp is shared: another local user can create that folder first and fill it, and mlx would
  then load their kernels into punie's process.
So, unless the user chose a folder (`MLX_PTX_CACHE_DIR`), punie points mlx at
`$XDG_CACHE_HOME/punie/mlx-ptx/<mlx version>` (default `~/.cache/...`). mlx reads the variable
once, at its first compilation; the model thread sets it before importing mlx.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from importlib import metadata
from pathlib import Path

VARIABLE = "MLX_PTX_CACHE_DIR"


def kernel_cache_dir(environ: MutableMapping[str, str]) -> Path:
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    try:
        version = metadata.version("mlx")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return Path(base) / "punie" / "mlx-ptx" / version


def use_private_kernel_cache(environ: MutableMapping[str, str] | None = None) -> Path | None:
    """Set `MLX_PTX_CACHE_DIR` to punie's folder unless it is set; the folder used, or None.

    Linux only: mlx's CUDA backend is the only one that compiles to that cache (Metal keeps its
    own). An unusable home (no HOME, a relative XDG_CACHE_HOME) leaves mlx's default alone.
    """
    environ = os.environ if environ is None else environ
    if sys.platform != "linux" or environ.get(VARIABLE):
        return None
    try:
        folder = kernel_cache_dir(environ)
    except RuntimeError:  # no home directory to expand
        return None
    if not folder.is_absolute():
        return None
    environ[VARIABLE] = str(folder)
    return folder
