"""The pieces that confine ruff and ty: validated settings, the file list, the link scan, the environment."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from punie_acp.tools.checker_config import project_ruff_settings, project_ty_settings, safe_ruff_settings, to_toml
from punie_acp.tools.checker_scope import escaping_links, project_site_packages, python_files
from punie_acp.tools.lint import diff_sections
from punie_acp.tools.toolchain import checker_env, checker_program, pinned_program


def test_only_rule_and_format_settings_survive() -> None:
    hostile: dict[str, Any] = {
        "extend": "~/.aws/credentials",
        "cache-dir": "/tmp/elsewhere",
        "src": ["/etc"],
        "include": ["/etc/*"],
        "extend-include": ["*.toml"],
        "namespace-packages": ["/x"],
        "required-version": ">=99",
        "line-length": 100,
        "target-version": "py311",
        "select": ["E", "F"],
        "lint": {
            "ignore": ["E501", "not a rule"],
            "extend-select": ["UP"],
            "per-file-ignores": {"tests/*": ["S101"], "x": "E1"},
            "isort": {"known-first-party": ["pkg"], "sections": {"x": ["y"]}},
            "flake8-tidy-imports": {"banned-api": {"os": {"msg": "no"}}},
            "unknown-plugin": {"path": "/etc/passwd"},
        },
        "format": {"quote-style": "single", "indent-style": "bogus", "exclude": ["gen/*"]},
    }
    assert safe_ruff_settings(hostile) == {
        "line-length": 100,
        "target-version": "py311",
        "lint": {"select": ["E", "F"], "extend-select": ["UP"], "isort": {"known-first-party": ["pkg"]}},
        "format": {"quote-style": "single", "exclude": ["gen/*"]},
    }


def test_wrong_shapes_are_dropped() -> None:
    assert safe_ruff_settings({"line-length": True, "indent-width": 10_000, "target-version": "py3; rm"}) == {}
    assert safe_ruff_settings({"extend-exclude": ["ok", "bad\nline"], "builtins": ["_", "a b"]}) == {}
    assert safe_ruff_settings({"lint": "select"}) == {}


keys = st.text(min_size=1, max_size=20).filter(lambda s: s.isprintable())


@given(st.lists(keys, max_size=5), st.dictionaries(keys, st.lists(st.sampled_from(["E1", "F", "ALL"]), max_size=3)))
def test_what_punie_writes_is_the_toml_it_means(excludes: list[str], ignores: dict[str, list[str]]) -> None:
    """Quotes, backslashes, brackets and dots in globs stay inside their strings (no injected keys)."""
    settings = safe_ruff_settings({"extend-exclude": excludes, "lint": {"per-file-ignores": ignores}})
    assert tomllib.loads(to_toml(settings)) == settings


def test_project_settings_come_from_regular_files_in_the_root_only(tmp_path: Path) -> None:
    outside = tmp_path / "outside.toml"
    outside.write_text("[tool.ruff]\nline-length = 55\n[tool.ty.rules]\nx = 'ignore'\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "pyproject.toml").symlink_to(outside)
    assert project_ruff_settings(root) == {}
    assert project_ty_settings(root) == {}
    (root / "pyproject.toml").unlink()
    (root / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.10"\n[tool.ruff]\nline-length = 70\n')
    (root / "ruff.toml").write_text("line-length = 90\n")  # ruff.toml wins over pyproject.toml, as in ruff
    (root / "ty.toml").write_text('[rules]\npossibly-unresolved-reference = "warn"\nBAD = "error"\nx = "fatal"\n')
    assert project_ruff_settings(root) == {"line-length": 90, "target-version": "py310"}
    assert project_ty_settings(root) == {
        "rules": {"possibly-unresolved-reference": "warn"},
        "environment": {"python-version": "3.10"},
    }


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    (outside / "lib").mkdir(parents=True)
    (outside / "mod.py").write_text("x = 1\n")
    root = tmp_path / "root"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("")
    (root / "pkg" / "same.py").symlink_to(root / "pkg" / "a.py")
    (root / "pkg" / "out.py").symlink_to(outside / "mod.py")
    (root / "pkg" / "notes.txt").symlink_to(outside / "mod.py")
    (root / "linked").symlink_to(outside / "lib", target_is_directory=True)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to("/usr/bin/python3")
    (root / ".venv" / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / ".venv" / "lib" / "python3.11" / "site-packages" / "dep.py").write_text("")
    return root.resolve(), outside


def test_the_file_list_keeps_links_inside_and_skips_environments(tmp_path: Path) -> None:
    root, _ = _tree(tmp_path)
    assert python_files(root, root) == [root / "pkg" / "a.py", root / "pkg" / "same.py"]
    assert python_files(root, root / "pkg" / "a.py") == [root / "pkg" / "a.py"]


def test_links_an_import_could_follow_out_of_the_root_are_found(tmp_path: Path) -> None:
    root, _ = _tree(tmp_path)
    # notes.txt is no module; .venv/bin/python lies where no import goes.
    assert sorted(escaping_links(root, root)) == [root / "linked", root / "pkg" / "out.py"]
    site = project_site_packages(root)
    assert site == root / ".venv" / "lib" / "python3.11" / "site-packages"
    assert escaping_links(root, site) == []


def test_a_linked_venv_is_not_searched(tmp_path: Path) -> None:
    root, outside = _tree(tmp_path)
    (outside / "venv" / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    (outside / "venv" / "pyvenv.cfg").write_text("")
    os.rename(root / ".venv", tmp_path / "old-venv")
    (root / ".venv").symlink_to(outside / "venv", target_is_directory=True)
    assert project_site_packages(root) is None


def test_checker_env_drops_what_could_steer_a_checker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("RUFF_CACHE_DIR", "TY_CONFIG_FILE", "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH"):
        monkeypatch.setenv(key, "/elsewhere")
    monkeypatch.setenv("PATH", "/project/.venv/bin:/usr/bin")
    env = checker_env(tmp_path)
    assert not {"RUFF_CACHE_DIR", "TY_CONFIG_FILE", "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH"} & set(env)
    assert env["XDG_CONFIG_HOME"] == env["HOME"] == str(tmp_path)
    assert "/project" not in env["PATH"]


def test_the_pinned_binaries_are_punies_own(tmp_path: Path) -> None:
    for name in ("ruff", "ty"):
        program = pinned_program(name)
        assert program is not None and Path(program.argv[0]).is_file()
        assert checker_program(name, tmp_path, project_tools=True) == program  # the root has none


def test_diff_sections_split_per_file() -> None:
    diff = "--- a.py\n+++ a.py\n@@ -1 +1 @@\n-x\n+y\n--- /else/b.py\n+++ /else/b.py\n@@ -1 +1 @@\n-p\n+q\n"
    assert diff_sections(diff) == [
        ("a.py", "--- a.py\n+++ a.py\n@@ -1 +1 @@\n-x\n+y\n"),
        ("/else/b.py", "--- /else/b.py\n+++ /else/b.py\n@@ -1 +1 @@\n-p\n+q\n"),
    ]


def test_links_are_followed_inside_the_root_to_find_the_ones_leaving_it(tmp_path: Path) -> None:
    root, outside = _tree(tmp_path)
    hidden = root / ".hidden" / "real"
    hidden.mkdir(parents=True)
    (hidden / "secret.py").symlink_to(outside / "mod.py")
    (root / "pkg" / "alias").symlink_to(hidden, target_is_directory=True)  # `import pkg.alias.secret`
    (root / "é").symlink_to(outside / "lib", target_is_directory=True)  # non-ASCII names import too
    (root / "loop").symlink_to(root, target_is_directory=True)
    found = set(escaping_links(root, root))
    assert {root / "pkg" / "alias" / "secret.py", root / "é", root / "linked", root / "pkg" / "out.py"} == found
