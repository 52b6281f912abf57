"""Attacks on the never-asking checkers (`ruff_check`, `ruff_format_diff`, `ty_check`) through `punie serve`.

The checkers ask no permission in any mode, so whatever a hostile root can make them run, read or
write is a bypass. Each attack prepares a root, has the scripted model call the checkers, and then
asserts the common verdict (no marker outside, no secret shown, the server still serves), that no
permission prompt appeared, and, where the checker should still work, that it did.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import struct
import sys
from pathlib import Path
from typing import Any

import acp
import mypy
import pytest

from tests.security.hostile import SECRET, AttackResult, Outside, assert_contained, output_of, run_attack
from tests.support.acp_client import RecordingClient, punie_server

pytestmark = pytest.mark.anyio

# The secret as an identifier, for messages that quote names (`X` imported but unused).
SECRET_NAME = SECRET.replace("-", "_")
CHECKERS = ("ruff_check", "ruff_format_diff", "ty_check")
PYVER = f"python{sys.version_info.major}.{sys.version_info.minor}"


def _all_checkers(path: str = ".") -> list[tuple[str, dict[str, Any]]]:
    return [(name, {"path": path}) for name in CHECKERS]


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text("import os\n\n\ndef name() -> str:\n    return 42\n")
    return root.resolve()


def _secret_module(outside: Outside, name: str = "secretmod.py") -> Path:
    """A Python module outside the root whose content carries the secret (in every quotable form)."""
    path = outside.base / name
    path.write_text(f"import {SECRET_NAME}\nVALUE = '{SECRET}'\nx=[1,2]\n")
    return path


def _revealing(root: Path, module: str, name: str = "probe.py") -> None:
    """A file in the root that makes ty print the value of a module's constant."""
    (root / name).write_text(f"import {module}\n\nreveal_type({module}.VALUE)\n")


def _verdict(result: AttackResult, outside: Outside) -> None:
    assert_contained(result, outside)
    assert SECRET_NAME not in result.shown, "a name from a file outside the root reached the editor"
    assert result.client.permission_requests == [], "a never-asking checker asked (or something else ran)"


def _finished_ok(result: AttackResult) -> list[bool]:
    return [e.status == "completed" for e in result.finals()]


def _outputs(result: AttackResult) -> str:
    return json.dumps([e.model_dump(mode="json") for e in result.finals()])


# --- Class 1: the project's own binaries ----------------------------------------------------------


def _committed_tools(root: Path, outside: Outside, venv: str) -> None:
    bindir = root / venv / "bin"
    bindir.mkdir(parents=True)
    (root / venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    for name in ("ruff", "ty", "python", "python3"):
        tool = bindir / name
        tool.write_text(f"#!/bin/sh\n{outside.payload()}\necho '[]'\n")
        tool.chmod(0o755)


@pytest.mark.parametrize("venv", [".venv", "venv"])
@pytest.mark.parametrize("mode", ["read-only", "ask"])
async def test_a_committed_venv_tool_never_runs(tmp_path: Path, venv: str, mode: str) -> None:
    outside = Outside(tmp_path / "outside")
    root = _root(tmp_path)
    _committed_tools(root, outside, venv)
    result = await run_attack(root, _all_checkers(), tmp_path / "log", mode=mode, client=RecordingClient("reject_once"))
    _verdict(result, outside)
    assert _finished_ok(result) == [True, True, True], _outputs(result)
    assert "F401" in _outputs(result)  # punie's own ruff did the work


async def test_a_tool_on_path_or_an_active_virtualenv_is_not_used(tmp_path: Path) -> None:
    """PATH and $VIRTUAL_ENV can be shadowed by whatever started the editor; the pinned tools are used."""
    outside = Outside(tmp_path / "outside")
    root = _root(tmp_path)
    shadow = tmp_path / "shadow"
    _committed_tools(shadow, outside, "env")
    env = {
        "PATH": f"{shadow / 'env' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(shadow / "env"),
        "CONDA_PREFIX": str(shadow / "env"),
    }
    result = await run_attack(root, _all_checkers(), tmp_path / "log", mode="read-only", env=env)
    _verdict(result, outside)
    assert _finished_ok(result) == [True, True, True], _outputs(result)


async def test_an_edited_tool_wrapper_is_not_run_in_auto_edit_mode(tmp_path: Path) -> None:
    """Auto-edit may rewrite `.venv/bin/ruff` (it keeps its execute bit); the checkers still never run it."""
    outside = Outside(tmp_path / "outside")
    root = _root(tmp_path)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    for name in ("ruff", "ty"):
        (root / ".venv" / "bin" / name).write_text("#!/bin/sh\nexit 0\n")
        (root / ".venv" / "bin" / name).chmod(0o755)
    wrapper = f"#!/bin/sh\n{outside.payload()}\necho '[]'\n"
    steps = [
        ("write_file", {"path": ".venv/bin/ruff", "content": wrapper}),
        ("write_file", {"path": ".venv/bin/ty", "content": wrapper}),
        *_all_checkers(),
    ]
    result = await run_attack(root, steps, tmp_path / "log", mode="auto-edit", client=RecordingClient("reject_once"))
    assert (root / ".venv" / "bin" / "ruff").read_text() == wrapper  # the edit itself was allowed
    _verdict(result, outside)


# --- Class 2: the checkers' own configuration reaching outside ------------------------------------


@pytest.mark.parametrize(
    ("config_file", "table"),
    [("pyproject.toml", "[tool.ruff]"), ("ruff.toml", ""), (".ruff.toml", ""), ("pkg/pyproject.toml", "[tool.ruff]")],
)
async def test_ruff_config_cannot_extend_or_cache_outside(tmp_path: Path, config_file: str, table: str) -> None:
    outside = Outside(tmp_path / "outside")
    root = _root(tmp_path)
    (root / config_file).write_text(
        f'{table}\nextend = "{outside.secret_file}"\ncache-dir = "{outside.marker}"\nsrc = ["{outside.base}"]\n'
    )
    result = await run_attack(root, _all_checkers("pkg"), tmp_path / "log", mode="read-only")
    _verdict(result, outside)
    assert _finished_ok(result)[:2] == [True, True], _outputs(result)


async def test_ruff_cache_dir_outside_is_not_created(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    root = _root(tmp_path)
    (root / "pyproject.toml").write_text(f'[tool.ruff]\ncache-dir = "{outside.marker}"\nline-length = 100\n')
    result = await run_attack(root, _all_checkers(), tmp_path / "log", mode="read-only")
    _verdict(result, outside)
    assert _finished_ok(result) == [True, True, True], _outputs(result)


async def test_checker_env_variables_of_the_server_do_not_steer_them(tmp_path: Path) -> None:
    """RUFF_* / TY_* / PYTHONPATH in the environment punie was started with are not passed on."""
    outside = Outside(tmp_path / "outside")
    _secret_module(outside)
    ty_config = outside.base / "ty.toml"
    ty_config.write_text(f'[environment]\nextra-paths = ["{outside.base}"]\n')
    root = _root(tmp_path)
    _revealing(root, "secretmod")
    env = {
        "RUFF_CACHE_DIR": str(outside.marker),
        "RUFF_OUTPUT_FILE": str(outside.marker),
        "RUFF_NO_CACHE": "false",
        "TY_CONFIG_FILE": str(ty_config),
        "PYTHONPATH": str(outside.base),
    }
    result = await run_attack(root, _all_checkers(), tmp_path / "log", mode="read-only", env=env)
    _verdict(result, outside)
    assert _finished_ok(result) == [True, True, True], _outputs(result)


def _ty_configs(outside: Outside) -> list[tuple[str, str]]:
    """(file, content) pairs that point ty's module search at the secret module outside."""
    base = outside.base
    typeshed = base / "typeshed"
    shutil.copytree(Path(mypy.__file__).parent / "typeshed", typeshed)  # a complete typeshed to replace ty's
    with (typeshed / "stdlib" / "VERSIONS").open("a") as versions:
        versions.write("secretmod: 3.0-\n")
    (typeshed / "stdlib" / "secretmod.pyi").write_text(f"from typing import Final\nVALUE: Final = '{SECRET}'\n")
    env = base / "env"
    site = env / "lib" / PYVER / "site-packages"
    site.mkdir(parents=True)
    (site / "secretmod.py").write_text(f"VALUE = '{SECRET}'\n")
    (env / "bin").mkdir()
    python = env / "bin" / "python"
    python.write_text(f"#!/bin/sh\n{outside.payload()}\n")  # ty must not run it either
    python.chmod(0o755)
    return [
        ("pyproject.toml", f'[tool.ty.environment]\nextra-paths = ["{base}"]\n'),
        ("ty.toml", f'[environment]\nextra-paths = ["{base}"]\n'),
        ("ty.toml", f'[environment]\nroot = ["{base}"]\n'),
        ("ty.toml", f'[environment]\npython = "{env}"\n'),
        ("ty.toml", f'[environment]\ntypeshed = "{typeshed}"\n'),
        ("pyproject.toml", f'[tool.ty.environment]\npython = "{python}"\n'),
    ]


@pytest.mark.parametrize("case", range(6))
async def test_ty_config_cannot_resolve_modules_outside(tmp_path: Path, case: int) -> None:
    outside = Outside(tmp_path / "outside")
    _secret_module(outside)
    root = _root(tmp_path)
    name, content = _ty_configs(outside)[case]
    (root / name).write_text(content)
    _revealing(root, "secretmod")
    result = await run_attack(root, [("ty_check", {"path": "probe.py"})], tmp_path / "log", mode="read-only")
    _verdict(result, outside)


async def test_ty_ignores_a_project_venvs_pth_and_home_outside(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    _secret_module(outside)
    root = _root(tmp_path)
    site = root / ".venv" / "lib" / PYVER / "site-packages"
    site.mkdir(parents=True)
    (root / ".venv" / "pyvenv.cfg").write_text(f"home = {outside.base}\ninclude-system-site-packages = true\n")
    (site / "evil.pth").write_text(f"{outside.base}\n")
    (site / "inside.py").write_text("VALUE = 'fine'\n")
    _revealing(root, "secretmod")
    _revealing(root, "inside", "probe2.py")
    steps = [("ty_check", {"path": "probe.py"}), ("ty_check", {"path": "probe2.py"})]
    env = {"VIRTUAL_ENV": str(outside.base / "env"), "CONDA_PREFIX": str(outside.base / "env")}
    result = await run_attack(root, steps, tmp_path / "log", mode="read-only", env=env)
    _verdict(result, outside)
    assert 'Literal[\\"fine\\"]' in _outputs(result) or 'Literal["fine"]' in _outputs(result), _outputs(result)


# --- Class 3: links leaving the root --------------------------------------------------------------


async def test_a_committed_file_link_outside_is_not_followed(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    target = _secret_module(outside)
    root = _root(tmp_path)
    (root / "cfg.py").symlink_to(target)
    (root / "pkg" / "cfg2.py").symlink_to(target)
    _revealing(root, "cfg")
    steps = [*_all_checkers(), ("ruff_check", {"path": "pkg"}), ("ruff_format_diff", {"path": "pkg"})]
    result = await run_attack(root, steps, tmp_path / "log", mode="read-only")
    _verdict(result, outside)


async def test_a_committed_directory_link_outside_is_not_followed(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    lib = outside.base / "lib"
    lib.mkdir()
    (lib / "__init__.py").write_text("")
    (lib / "secretmod.py").write_text(f"import {SECRET_NAME}\nVALUE = '{SECRET}'\nx=[1,2]\n")
    root = _root(tmp_path)
    (root / "linked").symlink_to(lib, target_is_directory=True)
    (root / "probe.py").write_text("import linked.secretmod\n\nreveal_type(linked.secretmod.VALUE)\n")
    result = await run_attack(root, _all_checkers(), tmp_path / "log", mode="read-only")
    _verdict(result, outside)


# --- Class 4: option injection through names ------------------------------------------------------


async def test_file_names_that_look_like_options_stay_file_names(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    root = _root(tmp_path)
    for name in ("--output-file=written.py", "--fix.py", "-e.py", "--isolated.py"):
        (root / name).write_text("x=[1,2]\n")
    # Read as an option, this name would load the file itself as ruff's configuration.
    (root / "--config=evil.toml.py").write_text(f'extend = "{outside.secret_file}"\n')
    steps = [*_all_checkers(), ("ruff_check", {"path": "--fix.py"}), ("ty_check", {"path": "-e.py"})]
    result = await run_attack(root, steps, tmp_path / "log", mode="read-only")
    _verdict(result, outside)
    assert _finished_ok(result) == [True] * 5, _outputs(result)
    assert (root / "--fix.py").read_text() == "x=[1,2]\n"
    assert not (root / "written.py").exists()


async def test_config_files_linked_outside_are_not_read(tmp_path: Path) -> None:
    """A committed ruff.toml / .ruff.toml / ty.toml that links to a file outside is not followed.

    (A pyproject.toml linked outside is refused earlier, at session/new: tests/security/test_settings.py.)
    """
    outside = Outside(tmp_path / "outside")
    hostile = outside.base / "hostile.toml"
    hostile.write_text(
        f'line-length = "{SECRET}"\n[tool.ruff]\nline-length = "{SECRET}"\n'
        f'[tool.ty.rules]\n"{SECRET.lower()}" = "error"\n[rules]\n"{SECRET.lower()}" = "error"\n'
    )
    root = _root(tmp_path)
    for name in ("ruff.toml", ".ruff.toml", "ty.toml"):
        (root / name).symlink_to(hostile)
    result = await run_attack(root, _all_checkers(), tmp_path / "log", mode="read-only")
    _verdict(result, outside)
    assert SECRET.lower() not in result.shown
    assert _finished_ok(result) == [True, True, True], _outputs(result)


def _text_elf(marker: bytes) -> bytes:
    """A working x86-64 Linux program, made only of bytes below 0x80 (so a text edit can write it),
    that creates the file `marker` (relative to its working directory) and exits 0."""
    base, entry, path_off = 0x400000, 0x78, 0x100  # every offset's low byte stays below 0x80
    assert len(marker) < 0x7F
    code = b"\x6a\x02\x58" + b"\x68" + struct.pack("<I", base + path_off) + b"\x5f"  # rax=open, rdi=marker
    code += b"\x6a\x41\x5e" + b"\x6a\x24\x5a" + b"\x0f\x05"  # rsi=O_WRONLY|O_CREAT, rdx=0o44, syscall
    code += b"\x6a\x3c\x58" + b"\x6a\x00\x5f" + b"\x0f\x05"  # exit(0)
    size = path_off + 0x7F
    header = b"\x7fELF\x02\x01\x01" + b"\x00" * 9
    header += struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, base + entry, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    header += struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    data = ((header + code).ljust(path_off, b"\x00") + marker).ljust(size, b"\x00")
    assert max(data) < 0x80
    return data


@pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64", reason="the hand-made program is x86-64 Linux"
)
async def test_with_project_tools_allowed_an_edit_still_cannot_change_what_runs(tmp_path: Path) -> None:
    """The user allowed the project's tools; auto-edit turns a committed text `.venv/bin/ruff` (execute bit
    kept) into a native program; the checkers must not run it."""
    outside = Outside(tmp_path / "outside")
    root = _root(tmp_path)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    tool = root / ".venv" / "bin" / "ruff"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    program = _text_elf(os.path.relpath(outside.marker, root).encode())
    steps = [
        ("ruff_check", {"path": "pkg"}),
        ("write_file", {"path": ".venv/bin/ruff", "content": program.decode("ascii")}),
        ("ruff_check", {"path": "pkg/calc.py"}),
        ("ruff_format_diff", {"path": "pkg"}),
    ]
    result = await run_attack(root, steps, tmp_path / "log", mode="auto-edit", env={"PUNIE_PROJECT_TOOLS": "1"})
    outputs = [output_of(e) for e in result.finals()]
    assert tool.read_bytes() == program and os.access(tool, os.X_OK), outputs  # edited, still executable
    _verdict(result, outside)
    assert all("(punie's ruff)" in outputs[i] for i in (0, 2, 3)), outputs


async def test_a_link_inside_the_root_that_leads_to_a_link_outside_is_not_followed(tmp_path: Path) -> None:
    """`pkg/alias` → `.hidden/real` (inside, a directory no import could name) whose `secretmod.py` leaves."""
    outside = Outside(tmp_path / "outside")
    target = _secret_module(outside)
    root = _root(tmp_path)
    hidden = root / ".hidden" / "real"
    hidden.mkdir(parents=True)
    (hidden / "secretmod.py").symlink_to(target)
    (root / "pkg" / "alias").symlink_to(hidden, target_is_directory=True)
    (root / "probe.py").write_text("import pkg.alias.secretmod\n\nreveal_type(pkg.alias.secretmod.VALUE)\n")
    result = await run_attack(root, _all_checkers(), tmp_path / "log", mode="read-only")
    _verdict(result, outside)


async def test_a_repository_cannot_turn_on_project_tools(tmp_path: Path) -> None:
    """`[tool.punie] project_tools = true` is refused at session/new, naming the file and key; nothing runs."""
    outside = Outside(tmp_path / "outside")
    root = _root(tmp_path)
    (root / "pyproject.toml").write_text("[tool.punie]\nproject_tools = true\n")
    client = RecordingClient("allow_once")
    async with punie_server(client, "test", tmp_path / "log") as (conn, _proc):
        await conn.initialize(protocol_version=1, client_capabilities=client.capabilities())
        with pytest.raises(acp.RequestError) as refused:
            await conn.new_session(cwd=str(root), mcp_servers=[])
        assert "pyproject.toml" in str(refused.value) and "project_tools" in str(refused.value)
    assert not outside.marker.exists()
