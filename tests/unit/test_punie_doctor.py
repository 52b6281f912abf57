"""`punie doctor` through the real CLI, in a fake home: every finding has a status and, when not
ok, what to do; editor configs are judged by the same paths `punie init` writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from punie_acp.cli import main
from punie_acp.doctor import machine, report
from punie_acp.doctor.result import Check, Context
from punie_acp.settings import DEFAULT_MODEL, load_settings

REAL_PROBE = machine._PROBE
THIS_PUNIE = str(Path(os.path.abspath(sys.executable)).parent / "punie")
# A stand-in for mlx in the child probe, so most tests do not pay for importing mlx.
FAKE_CPU_PROBE = 'print(\'{"version": "0.0-fake", "metal": false, "cuda": false, "device": "cpu"}\')'


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    for name in ("XDG_CONFIG_HOME", "PUNIE_MODEL", "PUNIE_LANGUAGE_SERVERS", "LD_PRELOAD", "HF_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hf"))
    monkeypatch.setattr(machine, "_PROBE", FAKE_CPU_PROBE)
    monkeypatch.chdir(tmp_path)
    return home


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict[str, Any]]:
    assert main(["doctor", "--json", *args]) == 0
    report = json.loads(capsys.readouterr().out)
    return {c["name"]: c for c in report["checks"]}


def test_every_finding_has_a_status_and_what_to_do(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checks = doctor(capsys)
    for name in (
        "platform",
        "mlx backend",
        "memory",
        "model cache",
        "default model",
        "language server: ty",
        "Zed config",
        "PyCharm (JetBrains) config",
        "log file",
        "session store",
        "ACP SDK",
    ):
        assert name in checks, sorted(checks)
    for check in checks.values():
        assert check["status"] in ("ok", "warn", "missing")
        assert check["status"] == "ok" or check["fix"], check
    assert checks["model cache"]["detail"].startswith(str(home / "hf"))
    assert checks["default model"]["status"] == "missing"
    assert checks["default model"]["fix"].startswith(f"hf download {DEFAULT_MODEL}")
    assert checks["log file"]["detail"] == str(home / ".local" / "state" / "punie" / "punie.log")
    assert checks["session store"]["detail"] == str(home / ".local" / "state" / "punie" / "sessions.db")
    assert checks["ACP SDK"]["detail"].startswith("agent-client-protocol 0.12.1")
    assert checks["mlx backend"]["detail"] == "mlx 0.0-fake: CPU only"


def test_editor_configs_missing_then_pointing_at_this_punie(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = doctor(capsys)
    assert before["Zed config"]["status"] == "missing"
    assert before["Zed config"]["fix"] == "punie init --editor zed"
    assert main(["init", "--model", "test"]) == 0
    capsys.readouterr()
    after = doctor(capsys)
    for name in ("Zed config", "PyCharm (JetBrains) config"):
        assert after[name]["status"] == "ok"
        assert f"starts this punie ({THIS_PUNIE}), model test" in after[name]["detail"]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/somewhere/else/bin/punie", "does not exist or cannot run"),
        (sys.executable, "starts another punie"),
        ("punie", "found only through the editor's PATH"),
    ],
)
def test_an_editor_config_starting_something_else_is_a_warning(
    home: Path, capsys: pytest.CaptureFixture[str], command: str, expected: str
) -> None:
    path = home / ".jetbrains" / "acp.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"agent_servers": {"Punie": {"command": command, "args": ["serve"], "env": {}}}}))
    check = doctor(capsys)["PyCharm (JetBrains) config"]
    assert check["status"] == "warn" and expected in check["detail"]
    assert check["fix"] == "punie init --editor pycharm"


def test_a_broken_or_hostile_editor_config_is_reported_not_fatal(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zed = home / ".config" / "zed" / "settings.json"
    zed.parent.mkdir(parents=True)
    zed.write_text('{"agent_servers": ')
    assert doctor(capsys)["Zed config"]["status"] == "warn"
    zed.unlink()
    os.mkfifo(zed)  # would hang a plain open()
    check = doctor(capsys)["Zed config"]
    assert check["status"] == "warn" and "not a regular file" in check["detail"]


def test_a_downloaded_default_model_is_found_in_the_cache(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = home / "hf" / ("models--" + DEFAULT_MODEL.replace("/", "--")) / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot / "model.safetensors").write_bytes(b"\0" * 3_000_000)
    checks = doctor(capsys)
    assert checks["default model"] == {
        "name": "default model",
        "status": "ok",
        "detail": f"{DEFAULT_MODEL} is downloaded (3 MB)",
        "fix": None,
    }


def test_memory_is_compared_with_the_chosen_models_weights(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total, _ = machine.memory_bytes()
    assert total is not None
    small, huge = tmp_path / "small", tmp_path / "huge"
    for directory, size in ((small, 1_000_000), (huge, 2 * total)):  # a sparse file
        directory.mkdir()
        (directory / "config.json").write_text("{}")
        with open(directory / "model.safetensors", "wb") as weights:
            weights.truncate(size)
    assert doctor(capsys, "--model", "small")["memory"]["status"] == "ok"
    checks = doctor(capsys, "--model", "huge")
    assert checks["model"]["detail"] == f"huge: {huge} ({2 * total / 1e9:.1f} GB)"
    assert checks["memory"]["status"] == "warn"
    assert "choose a smaller model" in checks["memory"]["fix"]
    assert checks["default model"]["status"] == "ok"  # not needed for this model


def test_a_model_that_runs_elsewhere_needs_no_memory_check(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checks = doctor(capsys, "--model", "http://127.0.0.1:8080/v1")
    assert checks["model"]["status"] == "ok" and "memory" not in checks


def test_a_configured_language_server_that_is_missing(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUNIE_LANGUAGE_SERVERS", ".rs=no-such-analyzer-xyz")
    check = doctor(capsys)["language server: .rs"]
    assert check["status"] == "missing" and "'no-such-analyzer-xyz' is not on PATH" in check["detail"]


def test_openblas_on_a_linux_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings({})
    library = tmp_path / "x86_64-linux-gnu" / "openblas-pthread" / "libopenblas.so.0"
    monkeypatch.setattr(machine, "OPENBLAS_GLOB", str(tmp_path / "*" / "openblas-pthread" / "libopenblas.so.0"))
    missing = machine.openblas_check(Context(settings, {}, tmp_path))
    assert missing.status == "missing" and "apt-get install libopenblas0-pthread" in str(missing.fix)
    library.parent.mkdir(parents=True)
    library.write_bytes(b"")
    installed = machine.openblas_check(Context(settings, {}, tmp_path))
    assert installed.status == "warn" and f"LD_PRELOAD={library}" in str(installed.fix)
    preloaded = machine.openblas_check(Context(settings, {"LD_PRELOAD": str(library)}, tmp_path))
    assert preloaded.status == "ok"


def test_an_mlx_that_crashes_or_hangs_is_reported(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(machine, "_PROBE", "import os; os.abort()")
    crashed = doctor(capsys)["mlx backend"]
    assert crashed["status"] == "missing" and "crashed the interpreter (signal 6)" in crashed["detail"]
    monkeypatch.setattr(machine, "_PROBE", "import time; time.sleep(600)")
    hung = doctor(capsys, "--probe-timeout", "1")["mlx backend"]
    assert hung["status"] == "missing" and hung["detail"] == "importing mlx took longer than 1 s"


def test_the_real_mlx_probe_names_a_backend(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(machine, "_PROBE", REAL_PROBE)  # mlx itself, in a child of this environment
    backend = doctor(capsys)["mlx backend"]
    assert backend["detail"].split(": ")[1] in ("Metal (Apple GPU)", "CUDA (NVIDIA GPU)", "CPU only"), backend


def test_one_failing_check_does_not_hide_the_others(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_check(_ctx: Context) -> Check:
        raise OSError("disk on fire")

    monkeypatch.setattr(report, "CHECKS", (broken_check, *report.CHECKS))
    checks = doctor(capsys)
    assert checks["broken"] == {
        "name": "broken",
        "status": "warn",
        "detail": "the check failed: disk on fire",
        "fix": None,
    }
    assert "ACP SDK" in checks


def test_the_human_report_says_what_to_do(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("punie 0.1.0 doctor (model: ")
    assert "  missing Zed config" in out
    assert "→ punie init --editor zed" in out


def test_the_punie_command_starts_without_loading_init_ask_or_doctor_code() -> None:
    # `punie serve` builds the same parser: the new subcommands must not slow its start.
    probe = (
        "import sys; from punie_acp.cli import build_parser; build_parser(); "
        "print(sorted(m for m in sys.modules if m.startswith(('punie_acp.doctor', 'punie_acp.editor_setup', "
        "'punie_acp.headless', 'pydantic_ai', 'tempfile'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.replace("'", '"')) == [
        "punie_acp.doctor",
        "punie_acp.doctor.options",
        "punie_acp.editor_setup",
        "punie_acp.editor_setup.options",
        "punie_acp.headless",
        "punie_acp.headless.options",
    ]
