"""Where models are cached, whether the default (and the chosen) model is there, and whether
this machine's memory holds the chosen model. Read from the disk only: no network, no loading."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from punie_acp.doctor.machine import memory_bytes
from punie_acp.doctor.result import Check, Context
from punie_acp.settings import DEFAULT_MODEL

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_PARAMS = re.compile(r"(\d+(?:\.\d+)?)B(?:-A\d+(?:\.\d+)?B)?", re.IGNORECASE)
_BITS = re.compile(r"(\d+)[-_]?bit", re.IGNORECASE)
SMALLER = "mlx-community/Qwen3-4B-4bit"


def hub_cache(env: Mapping[str, str]) -> Path:
    """Hugging Face's cache, as huggingface_hub resolves it (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/…)."""
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    home = env.get("HF_HOME") or os.path.join(
        env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def cached_snapshot(repo: str, cache: Path) -> Path | None:
    """A downloaded snapshot of `repo` with a config and weights, or None."""
    snapshots = cache / ("models--" + repo.replace("/", "--")) / "snapshots"
    try:
        candidates = sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return None
    for snapshot in candidates:
        if (snapshot / "config.json").is_file() and any(snapshot.glob("*.safetensors")):
            return snapshot
    return None


def weights_bytes(directory: Path) -> int:
    total = 0
    for file in directory.glob("*.safetensors"):
        try:
            total += file.stat().st_size  # follows the cache's links to its blobs
        except OSError:
            continue
    return total


def estimated_bytes(repo: str) -> int | None:
    """From a name like Qwen3-Coder-30B-A3B-Instruct-4bit: 30e9 parameters at 4 bits, plus 10%."""
    params, bits = _PARAMS.search(repo), _BITS.search(repo)
    if params is None:
        return None
    width = int(bits.group(1)) if bits else 16
    return int(float(params.group(1)) * 1e9 * width / 8 * 1.1)


def cache_checks(ctx: Context) -> list[Check]:
    cache = hub_cache(ctx.env)
    where = Check("model cache", "ok", f"{cache} (Hugging Face cache; HF_HOME or HF_HUB_CACHE move it)")
    default = cached_snapshot(DEFAULT_MODEL, cache)
    if default is not None:
        found = Check("default model", "ok", f"{DEFAULT_MODEL} is downloaded ({_size(weights_bytes(default))})")
    elif ctx.settings.model != DEFAULT_MODEL:
        found = Check("default model", "ok", f"{DEFAULT_MODEL} is not downloaded (not needed for your model)")
    else:
        found = Check(
            "default model",
            "missing",
            f"{DEFAULT_MODEL} is not downloaded",
            f"hf download {DEFAULT_MODEL} (about 17 GB), or let the first punie serve fetch it; "
            "or choose another model with --model",
        )
    return [where, found]


def model_checks(ctx: Context) -> list[Check]:
    """The chosen model: where it is and whether memory holds it."""
    spec = ctx.settings.model
    if spec == "test" or spec.startswith("script:"):
        return [Check("model", "ok", f"{spec}: built in, needs no weights (for trying the wiring)")]
    if spec.startswith(("http://", "https://")):
        return [Check("model", "ok", f"{spec.split('?')[0]}: served by another program; punie loads nothing")]
    size, where = _locate(spec, ctx)
    if where is None:
        how = f"hf download {spec}" if _REPO_ID.match(spec) else "pass --model an mlx model directory"
        memory = _memory(spec, estimated_bytes(spec), "estimated from its name")
        if spec == DEFAULT_MODEL:
            return [memory]  # "default model" says it is missing and how to get it
        return [Check("model", "missing", f"{spec} is not on this machine", how), memory]
    return [Check("model", "ok", f"{spec}: {where} ({_size(size)})"), _memory(spec, size, "its weights")]


def _locate(spec: str, ctx: Context) -> tuple[int, Path | None]:
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = ctx.cwd / path
    if path.is_dir():
        return weights_bytes(path), path
    if _REPO_ID.match(spec):
        snapshot = cached_snapshot(spec, hub_cache(ctx.env))
        if snapshot is not None:
            return weights_bytes(snapshot), snapshot
    return 0, None


def _memory(spec: str, size: int | None, measured: str) -> Check:
    total, available = memory_bytes()
    if total is None or not size:
        return Check("memory", "warn", f"cannot compare memory with {spec}'s size (unknown)")
    have = f"{_size(total)} of memory" + (f" ({_size(available)} free now)" if available is not None else "")
    if total >= size * 1.25:
        return Check("memory", "ok", f"{have}; the model takes about {_size(size)} ({measured})")
    return Check(
        "memory",
        "warn",
        f"{have}; the model takes about {_size(size)} ({measured}) plus its KV cache",
        f"choose a smaller model, e.g. --model {SMALLER}",
    )


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"
