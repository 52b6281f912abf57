"""The flags: one per setting, with help and default shown; bad values refused by argparse."""

from __future__ import annotations

import pytest

from punie_acp.cli import _flags, build_parser
from punie_acp.settings import DEFAULT_MODEL, SPECS


def serve_help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "1000")  # one line per flag: argparse wraps at hyphens too
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_every_setting_has_a_flag_with_help_and_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = serve_help(capsys, monkeypatch)
    assert f"(default: {DEFAULT_MODEL}; env PUNIE_MODEL)" in text
    assert "(default: 4096; env PUNIE_MAX_TOKENS)" in text
    assert "--project-tools, --no-project-tools" in text
    for name, spec in SPECS.items():
        assert "--" + name.replace("_", "-") in text
        assert spec.help in text


def test_absent_flags_are_not_explicit() -> None:
    assert _flags(build_parser().parse_args(["serve"])) == {}
    args = build_parser().parse_args(["serve", "--no-project-tools", "--log-level", "debug", "--top-p", "0.5"])
    assert _flags(args) == {"project_tools": False, "log_level": "DEBUG", "top_p": 0.5}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--top-p", "0"], "argument --top-p: expected a finite number > 0 and ≤ 1, got '0'"),
        (["--command-timeout", "nan"], "argument --command-timeout: expected a finite number > 0"),
        (["--max-tokens", "many"], "argument --max-tokens: expected a whole number from 1 to"),
        (["--mode", "yolo"], "argument --mode: expected one of read-only, ask, auto-edit, got 'yolo'"),
    ],
)
def test_bad_flag_values_are_one_clear_line(capsys: pytest.CaptureFixture[str], argv: list[str], expected: str) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["serve", *argv])
    assert caught.value.code == 2
    assert expected in capsys.readouterr().err
