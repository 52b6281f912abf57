"""`punie ask` through the real CLI in-process: policies, the --json event stream, exit statuses,
and Ctrl-C cancelling the turn. (Subprocess runs with a terminal are in tests/e2e/test_ask_terminal.py.)"""

from __future__ import annotations

import io
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from punie_acp.cli import main
from tests.e2e.scripts import write_script

WRITE = {"call": "write_file", "args": {"path": "new.txt", "content": "hello"}}
RUN = {"call": "run_command", "args": {"command": "touch ran.txt"}}


@pytest.fixture(autouse=True)
def quiet_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUNIE_LOG_FILE", str(tmp_path / "punie.log"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: nobody can be asked


def ask(project: Path, *args: str) -> int:
    return main(["ask", "--cwd", str(project), *args])


def events(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def test_json_is_one_event_per_line_and_nothing_else(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ask(project, "--model", "test", "--json", "what is in hello.py?") == 0
    captured = capsys.readouterr()
    stream = events(captured.out)
    assert stream[0] == {
        "type": "start",
        "version": 1,
        "session": stream[0]["session"],
        "model": "punie-test",
        "cwd": str(project),
        "mode": "ask",
    }
    assert stream[-1] == {
        "type": "end",
        "stop_reason": "end_turn",
        "exit_code": 0,
        "usage": stream[-1]["usage"],
        "error": None,
        "cause": None,
    }
    assert stream[-1]["usage"]["output_tokens"] > 0
    (start,) = [e for e in stream if e["type"] == "tool_start"]
    assert (start["name"], start["kind"], start["title"]) == ("read_file", "read", "Read hello.py")
    assert start["locations"] == [{"path": str(project / "hello.py"), "line": None}]
    (finish,) = [e for e in stream if e["type"] == "tool_finish"]
    assert finish["id"] == start["id"] and finish["status"] == "completed"
    assert "".join(e["text"] for e in stream if e["type"] == "text").startswith("I read it: 2 lines.")
    assert any(e["type"] == "thought" for e in stream)
    assert captured.err == ""  # progress is in the stream, not on stderr


def test_an_edit_nobody_can_allow_is_refused_with_exit_3(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = write_script(tmp_path, [[WRITE], [{"say": "could not write"}]])
    assert ask(project, "--model", model, "write it") == 3
    assert not (project / "new.txt").exists()
    err = capsys.readouterr().err
    refused = [line for line in err.splitlines() if line.startswith("punie: refused")]
    assert len(refused) == 1 and "--policy yes" in refused[0] and "Write new.txt" in refused[0], err


def test_json_reports_the_permission_question_and_answer(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = write_script(tmp_path, [[WRITE], [{"say": "could not write"}]])
    assert ask(project, "--model", model, "--json", "write it") == 3
    stream = events(capsys.readouterr().out)
    asked = [e for e in stream if e["type"].startswith("permission")]
    call_id = next(e["id"] for e in stream if e["type"] == "tool_start")
    assert asked == [
        {"type": "permission_asked", "id": call_id, "kind": "edit", "title": "Write new.txt"},
        {"type": "permission_answered", "id": call_id, "outcome": "reject_once"},
    ]
    assert stream[-1]["exit_code"] == 3 and stream[-1]["stop_reason"] == "end_turn"


@pytest.mark.parametrize("flag", [["--yes"], ["--policy", "yes"]])
def test_yes_allows_edits_and_commands(project: Path, tmp_path: Path, flag: list[str]) -> None:
    model = write_script(tmp_path, [[WRITE], [RUN], [{"say": "done"}]])
    assert ask(project, "--model", model, *flag, "write it") == 0
    assert (project / "new.txt").read_text() == "hello"
    assert (project / "ran.txt").exists()


def test_auto_edit_writes_but_still_asks_before_a_command(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = write_script(tmp_path, [[WRITE], [RUN], [{"say": "done"}]])
    assert ask(project, "--model", model, "--policy", "auto-edit", "--json", "write it") == 3
    assert (project / "new.txt").read_text() == "hello"
    assert not (project / "ran.txt").exists()
    stream = events(capsys.readouterr().out)
    assert stream[0]["mode"] == "auto-edit"
    assert [e["kind"] for e in stream if e["type"] == "permission_asked"] == ["execute"]


def test_read_only_denies_without_asking(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Refused by the mode, not by an answer: still exit status 3, so a script sees it was not done."""
    model = write_script(tmp_path, [[WRITE], [{"say": "not allowed here"}]])
    assert ask(project, "--model", model, "--policy", "read-only", "--json", "write it") == 3
    assert not (project / "new.txt").exists()
    stream = events(capsys.readouterr().out)
    assert stream[0]["mode"] == "read-only"
    assert not [e for e in stream if e["type"].startswith("permission")]
    (finish,) = [e for e in stream if e["type"] == "tool_finish"]
    assert finish["status"] == "failed" and "Read-only mode" in json.dumps(finish)


def test_yes_and_policy_together_are_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        ask(project, "--yes", "--policy", "read-only", "hi")
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("finish", "code", "stop"), [("length", 1, "max_tokens"), ("content_filter", 3, "refusal"), ("stop", 0, "end_turn")]
)
def test_exit_status_follows_how_the_turn_ended(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], finish: str, code: int, stop: str
) -> None:
    model = write_script(tmp_path, [[{"say": "partial"}, {"finish": finish}]])
    assert ask(project, "--model", model, "--json", "go") == code
    end = events(capsys.readouterr().out)[-1]
    assert (end["type"], end["stop_reason"], end["exit_code"]) == ("end", stop, code)


@pytest.mark.parametrize(
    ("responses", "flags", "cause"),
    [
        ([[{"call": "read_file", "args": {"path": "hello.py"}}]], (), "repeated_tool_call"),  # repeats to the end
        ([[{"call": "read_file", "args": {"path": "hello.py", "offset": i}}] for i in range(1, 9)],
         ("--request-limit", "2"), "usage_limit"),
    ],
)  # fmt: skip
def test_end_says_why_punie_stopped_the_turn(
    project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    responses: list[list[dict[str, object]]],
    flags: tuple[str, ...],
    cause: str,
) -> None:
    model = write_script(tmp_path, responses)
    assert ask(project, "--model", model, *flags, "--json", "go") == 1
    end = events(capsys.readouterr().out)[-1]
    assert (end["stop_reason"], end["exit_code"], end["cause"]) == ("max_turn_requests", 1, cause)


def test_a_setup_failure_is_exit_2_with_an_end_event(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "gone.json"
    assert ask(project, "--model", f"script:{missing}", "--json", "hi") == 2
    captured = capsys.readouterr()
    message = f"cannot read model script {missing}: No such file or directory"
    assert events(captured.out)[-1] == {
        "type": "end",
        "stop_reason": None,
        "exit_code": 2,
        "usage": {"input_tokens": 0, "output_tokens": 0},
        "error": message,
        "cause": None,
    }
    assert captured.err == f"punie: {message}\n"


class InterruptOnFirstAnswer(io.StringIO):
    """A stdout that presses Ctrl-C (SIGINT to this process) when the answer starts streaming."""

    def __init__(self) -> None:
        super().__init__()
        self.pressed = False

    def write(self, text: str) -> int:
        if not self.pressed and '"type": "text"' in text:
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)
        return super().write(text)


def test_ctrl_c_cancels_the_turn_and_exits_130(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    words = [{"say": f"word{n} "} for n in range(2000)]
    model = write_script(tmp_path, [words], chunk_delay=0.01)
    out = InterruptOnFirstAnswer()
    monkeypatch.setattr("sys.stdout", out)
    before = signal.getsignal(signal.SIGINT)
    assert ask(project, "--model", model, "--json", "talk") == 130
    stream = events(out.getvalue())
    assert stream[-1]["type"] == "end" and stream[-1]["stop_reason"] == "cancelled"
    assert len([e for e in stream if e["type"] == "text"]) < 2000
    assert "punie: cancelling" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
