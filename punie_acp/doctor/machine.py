"""The platform, mlx's backend (Metal, CUDA or CPU; OpenBLAS on a Linux CPU) and memory."""

from __future__ import annotations

import glob
import json
import os
import platform
import subprocess
import sys
from typing import Any

from punie_acp.doctor.result import Check, Context

# Run in a child: importing mlx where its build does not fit (an old CPU, a broken CUDA) can
# crash the interpreter, and a hung driver must not hang the doctor.
_PROBE = """
import json, mlx.core as mx
cuda = getattr(mx, "cuda", None)
print(json.dumps({
    "version": mx.__version__,
    "metal": bool(mx.metal.is_available()),
    "cuda": bool(cuda.is_available()) if cuda is not None else False,
    "device": str(mx.default_device()),
}))
"""
OPENBLAS_GLOB = "/usr/lib/*/openblas-pthread/libopenblas.so.0"


def platform_check(ctx: Context) -> Check:
    system, machine = platform.system(), platform.machine()
    detail = f"{system} {platform.release()} on {machine}, Python {platform.python_version()}"
    if system == "Darwin" and machine != "arm64":
        return Check(
            "platform",
            "warn",
            detail,
            "mlx runs on Apple silicon Macs; on an Intel Mac use an OpenAI-compatible server (--model http://…)",
        )
    if system not in ("Darwin", "Linux"):
        return Check(
            "platform",
            "warn",
            detail,
            "punie is made for macOS and Linux; use an OpenAI-compatible server (--model http://…)",
        )
    return Check("platform", "ok", detail)


def probe_mlx(timeout: float) -> dict[str, Any] | str:
    """mlx's facts from a child interpreter, or why they could not be had."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return f"importing mlx took longer than {timeout:g} s"
    except OSError as exc:
        return f"could not start {sys.executable}: {exc}"
    if done.returncode != 0:
        if done.returncode < 0:
            return f"importing mlx crashed the interpreter (signal {-done.returncode})"
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"importing mlx failed: {last[:200]}"
    try:
        facts: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return "the mlx probe printed nothing usable"
    return facts


def backend_checks(ctx: Context) -> list[Check]:
    facts = probe_mlx(ctx.probe_timeout)
    if isinstance(facts, str):
        fix = 'reinstall punie (`uv sync`); on Linux mlx needs the "mlx[cpu]" or "mlx[cuda]" build'
        return [Check("mlx backend", "missing", facts, fix)]
    version = facts.get("version", "?")
    if facts.get("metal"):
        return [Check("mlx backend", "ok", f"mlx {version}: Metal (Apple GPU)")]
    if facts.get("cuda"):
        return [Check("mlx backend", "ok", f"mlx {version}: CUDA (NVIDIA GPU)")]
    cpu = Check(
        "mlx backend",
        "warn",
        f"mlx {version}: CPU only",
        'fine for small float32 models; with an NVIDIA GPU: uv pip install "mlx[cuda]"',
    )
    return [cpu, openblas_check(ctx)] if platform.system() == "Linux" else [cpu]


def openblas_check(ctx: Context) -> Check:
    preload = ctx.env.get("LD_PRELOAD", "")
    if "openblas" in preload:
        return Check("OpenBLAS", "ok", f"preloaded: {preload}")
    found = sorted(glob.glob(OPENBLAS_GLOB))
    if found:
        return Check(
            "OpenBLAS",
            "warn",
            f"installed ({found[0]}) but not preloaded: mlx uses its slow reference BLAS on the CPU",
            f'set LD_PRELOAD={found[0]} (in an editor config: in "env"); float32 matmuls get about 70x faster',
        )
    return Check(
        "OpenBLAS",
        "missing",
        "not installed: mlx uses its slow reference BLAS on the CPU",
        "sudo apt-get install libopenblas0-pthread, then set LD_PRELOAD to its libopenblas.so.0",
    )


def memory_bytes() -> tuple[int | None, int | None]:
    """(total, available) physical memory in bytes; None where this platform does not say."""
    total: int | None = None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = None
    available: int | None = None
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        available = None
    return total, available
