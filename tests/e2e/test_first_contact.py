"""First contact through the real command: expected failures are one line, never a traceback.

`punie ask` shows one `punie: …` line in the terminal; `punie serve` puts the same explanation
in the ACP error's message. The traceback, where there is one, is in the log file only.
"""

from __future__ import annotations

import os
import pty
import select
import socket
import subprocess
from pathlib import Path

import acp
import pytest

from tests.e2e.scripts import write_script
from tests.support.acp_client import PUNIE, RecordingClient, punie_server, server_env, start_session, text_prompt


def _dead_url() -> str:
    """An OpenAI-style URL on a loopback port where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _ask(
    log_dir: Path, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PUNIE, "ask", *args],
        cwd=cwd,
        env=env or server_env(log_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _log(log_dir: Path) -> str:
    return (log_dir / "punie.log").read_text()


# punie ask -------------------------------------------------------------------------------------


def test_ask_with_no_model_server_is_one_line(tmp_path: Path, project: Path) -> None:
    url = _dead_url()
    result = _ask(tmp_path, "--model", url, "--cwd", str(project), "hi")
    assert result.returncode == 2
    line = _one_line(result.stderr)
    assert line.startswith("punie: Cannot reach the model server at " + url)
    assert "Start the server" in line
    assert result.stdout == ""
    assert "Traceback" in _log(tmp_path)  # the details are kept, in the log file


def test_ask_with_a_missing_script_is_one_line(tmp_path: Path, project: Path) -> None:
    missing = tmp_path / "no-such-script.json"
    result = _ask(tmp_path, "--model", f"script:{missing}", "--cwd", str(project), "hi")
    assert result.returncode == 2
    assert _one_line(result.stderr) == f"punie: cannot read model script {missing}: No such file or directory"


def test_ask_with_a_missing_model_directory_ends_with_one_line(tmp_path: Path, project: Path) -> None:
    missing = tmp_path / "no-such-model"
    result = _ask(tmp_path, "--model", str(missing), "--cwd", str(project), "hi")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and " ERROR " not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"punie: Model directory {missing} does not exist")
    # Only the loading progress (shown as thought) came before it.
    assert all(line.startswith("Loading ") for line in result.stderr.strip().splitlines()[:-1])


def test_ask_with_a_bad_setting_is_one_line(tmp_path: Path, project: Path) -> None:
    env = server_env(tmp_path, {"PUNIE_REQUEST_LIMIT": "many"})
    result = _ask(tmp_path, "--model", "test", "--cwd", str(project), "hi", env=env)
    assert result.returncode == 2
    line = _one_line(result.stderr)
    assert line.startswith("punie: ") and "PUNIE_REQUEST_LIMIT" in line


def test_ask_resolves_a_relative_cwd(tmp_path: Path, project: Path) -> None:
    result = _ask(tmp_path, "--model", "test", "--cwd", ".", "what is in hello.py?", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("I read it: 2 lines.")


def test_ask_with_a_cwd_that_does_not_exist_is_one_line(tmp_path: Path, project: Path) -> None:
    result = _ask(tmp_path, "--model", "test", "--cwd", "not-here", "hi", cwd=project)
    assert result.returncode == 2
    assert _one_line(result.stderr) == f"punie: cwd {str(project / 'not-here')!r} does not exist"


def test_ask_ends_the_thought_line_before_the_answer(tmp_path: Path, project: Path) -> None:
    result = subprocess.run(
        [*PUNIE, "ask", "--model", "test", "--cwd", str(project), "hi"],
        env=server_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one terminal shows both
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout == "Nothing to look up; answering directly.\nThis is punie's test model. You said: hi\n"


def test_ask_shows_no_pydantic_ai_banner(tmp_path: Path, project: Path) -> None:
    env = server_env(tmp_path)
    for quiet in ("PYTEST_VERSION", "CI", "PYDANTIC_AI_NO_BANNER"):
        env.pop(quiet, None)
    env["AI_AGENT"] = "1"  # PydanticAI shows its banner to coding agents as to terminals
    result = _ask(tmp_path, "--model", "test", "--cwd", str(project), "hi", env=env)
    assert result.returncode == 0
    shown = result.stdout + result.stderr
    assert "logfire" not in shown.lower() and "observability" not in shown.lower()
    assert result.stderr == "Nothing to look up; answering directly.\n"


def test_ask_says_how_to_allow_a_refused_edit(tmp_path: Path, project: Path) -> None:
    write = {"call": "write_file", "args": {"path": "new.txt", "content": "hello"}}
    model = write_script(tmp_path, [[write], [{"say": "could not write"}]])
    result = _ask(tmp_path, "--model", model, "--cwd", str(project), "write it")
    assert not (project / "new.txt").exists()
    refused = [line for line in result.stderr.splitlines() if line.startswith("punie: refused")]
    assert len(refused) == 1, result.stderr
    assert "--yes" in refused[0] and "new.txt" in refused[0]
    allowed = _ask(tmp_path, "--model", model, "--cwd", str(project), "--yes", "write it")
    assert (project / "new.txt").read_text() == "hello"
    assert "punie: refused" not in allowed.stderr


def test_ask_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path, project: Path) -> None:
    model = write_script(tmp_path, [[{"say": " ".join(["word"] * 20_000)}]], chunk_delay=0.001)
    proc = subprocess.Popen(
        [*PUNIE, "ask", "--model", model, "--cwd", str(project), "talk"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(tmp_path),
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10) == b"word word "
    proc.stdout.close()  # like `punie ask … | head -c 10`
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, stderr
    assert stderr == ""


# punie serve -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_serve_with_no_model_server_answers_the_prompt_with_the_reason(tmp_path: Path, project: Path) -> None:
    url = _dead_url()
    client = RecordingClient()
    async with punie_server(client, url, tmp_path) as (conn, proc):
        sid = await start_session(conn, client, project)
        with pytest.raises(acp.RequestError) as info:
            await conn.prompt(session_id=sid, prompt=text_prompt("hi"))
        assert proc.returncode is None
    assert info.value.code == -32603
    message = str(info.value)
    assert message.startswith("Cannot reach the model server at " + url) and "Start the server" in message
    assert "TaskGroup" not in message
    assert "Traceback" in _log(tmp_path)


@pytest.mark.anyio
async def test_serve_with_a_missing_script_serves_on_and_fails_the_prompt(tmp_path: Path, project: Path) -> None:
    missing = tmp_path / "gone.json"
    client = RecordingClient()
    async with punie_server(client, f"script:{missing}", tmp_path) as (conn, proc):
        sid = await start_session(conn, client, project)
        for _ in range(2):  # it stays that way, and the server stays up
            with pytest.raises(acp.RequestError) as info:
                await conn.prompt(session_id=sid, prompt=text_prompt("hi"))
            assert info.value.code == -32603
            assert str(info.value) == f"cannot read model script {missing}: No such file or directory"
        assert (await conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        assert proc.returncode is None


def test_serve_in_a_terminal_says_what_it_waits_for(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*PUNIE, "serve", "--model", "test"],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(tmp_path),
    )
    os.close(follower)
    try:
        assert proc.stderr is not None and proc.stdout is not None
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        assert ready, "no word on stderr"
        line = proc.stderr.readline().decode()
        assert "waits for an editor" in line and "punie ask" in line
    finally:
        # The hint is all this checks; how a terminal session ends (^D, a closed window) is not.
        proc.terminate()
        proc.wait(timeout=60)
        os.close(leader)
    assert proc.stdout.read() == b""  # stdout is the protocol channel: nothing else goes there
    assert "Traceback" not in proc.stderr.read().decode()
