"""`./uvw`, the bootstrap: picks the right uv wheel, refuses unverified ones, runs the binary.

The runs use a static index on disk (file://), the way a mirror would serve it; no network.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

UVW = Path(__file__).resolve().parents[2] / "uvw"
PATH_WITHOUT_UV = "/usr/bin:/bin"
VERSION = "0.13.9"
# The names PyPI lists for uv 0.13.9 (the ones that matter for the choice).
PYPI_NAMES = [
    f"uv-{VERSION}-py3-none-{tags}.whl"
    for tags in (
        "linux_armv6l",
        "macosx_10_12_x86_64",
        "macosx_11_0_arm64",
        "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64",
        "manylinux_2_17_x86_64.manylinux2014_x86_64",
        "manylinux_2_28_aarch64",
        "musllinux_1_1_x86_64",
        "win_amd64",
    )
]


def load_uvw() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("uvw", str(UVW))
    spec = importlib.util.spec_from_loader("uvw", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("system", "machine", "libc", "expected"),
    [
        ("Linux", "x86_64", "glibc", "manylinux_2_17_x86_64.manylinux2014_x86_64"),
        ("Linux", "aarch64", "glibc", "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64"),
        ("Linux", "x86_64", "", "musllinux_1_1_x86_64"),
        ("Darwin", "arm64", "", "macosx_11_0_arm64"),
        ("Darwin", "x86_64", "", "macosx_10_12_x86_64"),
    ],
)
def test_picks_the_wheel_for_this_machine(
    monkeypatch: pytest.MonkeyPatch, system: str, machine: str, libc: str, expected: str
) -> None:
    uvw = load_uvw()
    monkeypatch.setattr(uvw.platform, "system", lambda: system)
    monkeypatch.setattr(uvw.platform, "machine", lambda: machine)
    monkeypatch.setattr(uvw.platform, "libc_ver", lambda: (libc, "2.36" if libc else ""))
    name, _url, _digest = uvw.pick_wheel([(n, "u", "d") for n in PYPI_NAMES])
    assert name == f"uv-{VERSION}-py3-none-{expected}.whl"


def fake_wheel() -> bytes:
    """A uv wheel whose 'binary' is a shell script that says how it was called."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        wheel.writestr(f"uv-{VERSION}.data/scripts/uv", '#!/bin/sh\necho "fake uv: $*"\n')
    return buffer.getvalue()


def write_index(base: Path, data: bytes, digest: str | None) -> str:
    """A static simple index on disk listing one uv wheel for this machine."""
    name = load_uvw().pick_wheel([(n, "", "") for n in PYPI_NAMES])[0]
    (base / "files").mkdir(parents=True)
    (base / "files" / name).write_bytes(data)
    page = base / "simple" / "uv"
    page.mkdir(parents=True)
    fragment = f"#sha256={digest}" if digest else ""
    (page / "index.html").write_text(f'<a href="../../files/{name}{fragment}">{name}</a>\n')
    return (base / "simple").as_uri()


def run_uvw(home: Path, index: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": PATH_WITHOUT_UV, "UV_INDEX_URL": index}
    return subprocess.run(
        [sys.executable, str(UVW), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


needs_path_without_uv = pytest.mark.skipif(
    shutil.which("uv", path=PATH_WITHOUT_UV) is not None or sys.platform == "win32",
    reason="uv is installed system-wide here",
)


@needs_path_without_uv
def test_fetches_checks_caches_and_runs_uv(tmp_path: Path) -> None:
    data = fake_wheel()
    index = write_index(tmp_path / "index", data, hashlib.sha256(data).hexdigest())
    first = run_uvw(tmp_path / "home", index, "run", "punie", "--flag")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "fake uv: run punie --flag\n"
    cached = tmp_path / "home" / ".cache" / "punie" / f"uv-{VERSION}" / "uv"
    assert os.access(cached, os.X_OK)
    shutil.rmtree(tmp_path / "index")  # the second run needs no index
    second = run_uvw(tmp_path / "home", index, "sync")
    assert (second.returncode, second.stdout) == (0, "fake uv: sync\n")


@needs_path_without_uv
@pytest.mark.parametrize("digest", ["0" * 64, None])
def test_refuses_a_wheel_it_cannot_verify(tmp_path: Path, digest: str | None) -> None:
    index = write_index(tmp_path / "index", fake_wheel(), digest)
    result = run_uvw(tmp_path / "home", index, "run")
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.startswith("uvw: ") and "sha256" in result.stderr
    assert not (tmp_path / "home" / ".cache").exists()
