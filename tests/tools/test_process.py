"""The local subprocess runner: output cap, live view, and no survivors after timeout or cancel."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import anyio
import pytest

from punie_acp.tools.output import OutputCap, clean_text
from punie_acp.tools.process import run_process
from punie_acp.tools.supervisor import descendants, proc_table, ps_table
from tests.support.terminals import alive, pids_in

pytestmark = pytest.mark.anyio

# Writes its own pid and a background child's pid, then waits on both.
TREE = "echo $$ > pids; sleep 1000 & echo $! >> pids; echo ready; wait"


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


async def wait_until(condition: object, guard: float = 30.0) -> None:
    with anyio.fail_after(guard):
        while not condition():  # type: ignore[operator]
            await anyio.sleep(0.02)


def test_output_cap_keeps_head_and_tail_and_says_what_was_cut() -> None:
    cap = OutputCap(head=20, tail=30)
    for n in range(100):
        cap.feed(f"line {n:03}\n".encode())
    text = cap.text()
    assert text.startswith("line 000\nline 001\n")
    assert text.endswith("line 098\nline 099\n")
    assert "line 050" not in text
    assert "bytes (" in text and "cut from the middle of 900 bytes" in text
    assert cap.total == 900 and cap.cut > 0


def test_output_cap_small_output_is_whole() -> None:
    cap = OutputCap(head=16, tail=8)  # exactly the 24 bytes of the text
    cap.feed("héllo wörld, all of it".encode())
    assert cap.text() == "héllo wörld, all of it"
    assert cap.cut == 0


def test_clean_text_strips_colour_and_redraws() -> None:
    assert clean_text("\x1b[31mred\x1b[0m ok") == "red ok"
    assert clean_text("progress 10%\rprogress 99%\rdone\nnext\r\n") == "done\nnext\n"


async def test_exit_code_and_merged_output(tmp_path: Path) -> None:
    result = await run_process(sh("echo out; echo err >&2; exit 3"), cwd=tmp_path, time_limit=60)
    assert result.exit_code == 3 and not result.ok and not result.timed_out
    assert result.output.splitlines() == ["out", "err"]
    assert result.status() == "exit code 3"


async def test_separate_stderr(tmp_path: Path) -> None:
    result = await run_process(sh("echo out; echo err >&2"), cwd=tmp_path, time_limit=60, merge_stderr=False)
    assert result.ok
    assert result.output == "out\n" and result.errors == "err\n"


async def test_timeout_kills_the_whole_process_tree(tmp_path: Path) -> None:
    result = await run_process(sh(TREE), cwd=tmp_path, time_limit=1.0)
    assert result.timed_out and not result.ok
    assert "timed out after 1 s" in result.status()
    assert "ready" in result.output
    pids = pids_in(tmp_path / "pids")
    assert len(pids) == 2
    await wait_until(lambda: not any(alive(p) for p in pids))


async def test_term_ignoring_process_gets_killed(tmp_path: Path) -> None:
    script = "trap '' TERM; echo $$ > pids; echo ready; while :; do sleep 0.1; done"
    result = await run_process(sh(script), cwd=tmp_path, time_limit=1.0)
    assert result.timed_out
    assert result.signal == "SIGKILL"
    await wait_until(lambda: not any(alive(p) for p in pids_in(tmp_path / "pids")))


async def test_background_leftovers_die_with_the_command(tmp_path: Path) -> None:
    result = await run_process(sh("sleep 1000 & echo $! > pids; echo started"), cwd=tmp_path, time_limit=60)
    assert result.ok and result.output == "started\n"
    pids = pids_in(tmp_path / "pids")
    assert pids
    await wait_until(lambda: not any(alive(p) for p in pids))


async def test_cancel_kills_the_whole_process_tree(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                await run_process(sh(TREE), cwd=tmp_path, time_limit=600)
                raise AssertionError("the command should have been cancelled")

            tg.start_soon(run)
            await wait_until(lambda: len(pids_in(pid_file)) == 2)
            tg.cancel_scope.cancel()
    pids = pids_in(pid_file)
    await wait_until(lambda: not any(alive(p) for p in pids))


async def test_live_view_streams_before_the_command_ends(tmp_path: Path) -> None:
    """The command waits for a file the test only creates after seeing the first line live."""
    seen: list[str] = []

    async def live(text: str) -> None:
        seen.append(text)
        if "first" in text:
            (tmp_path / "go").touch()

    script = "echo first; while [ ! -e go ]; do sleep 0.05; done; echo second"
    result = await run_process(sh(script), cwd=tmp_path, time_limit=60, live=live)
    assert result.ok
    assert result.output == "first\nsecond\n"
    assert seen and "second" not in seen[0]


async def test_output_is_capped_in_the_middle(tmp_path: Path) -> None:
    script = "i=0; while [ $i -lt 5000 ]; do echo line $i; i=$((i+1)); done"
    result = await run_process(sh(script), cwd=tmp_path, time_limit=60, head=200, tail=200)
    assert result.ok
    assert result.output.startswith("line 0\n")
    assert result.output.rstrip().endswith("line 4999")
    assert "cut from the middle" in result.output
    assert len(result.output) < 1000


async def test_missing_directory_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        await run_process(sh("true"), cwd=tmp_path / "nope", time_limit=10)


# Escapes from the process group: a new session, a new session after a double fork (orphaned),
# and one that also ignores SIGTERM. Each writes its pid; the shell then waits.
ESCAPES = (
    "setsid sleep 1000 & echo $! >> pids; "
    "(setsid sh -c 'echo $$ >> pids; exec sleep 1000' &); "
    "setsid sh -c 'trap \"\" TERM; echo $$ >> pids; exec sleep 1000' & "
    "while [ $(wc -l < pids) -lt 3 ]; do sleep 0.05; done; echo ready"
)


async def test_timeout_kills_processes_that_left_the_process_group(tmp_path: Path) -> None:
    result = await run_process(sh(ESCAPES + "; wait"), cwd=tmp_path, time_limit=2.0)
    assert result.timed_out and "ready" in result.output
    pids = pids_in(tmp_path / "pids")
    assert len(pids) == 3
    await wait_until(lambda: not any(alive(p) for p in pids))


async def test_cancel_kills_processes_that_left_the_process_group(tmp_path: Path) -> None:
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                await run_process(sh(ESCAPES + "; wait"), cwd=tmp_path, time_limit=600)
                raise AssertionError("the command should have been cancelled")

            tg.start_soon(run)
            await wait_until(lambda: len(pids_in(tmp_path / "pids")) == 3)
            tg.cancel_scope.cancel()
    pids = pids_in(tmp_path / "pids")
    await wait_until(lambda: not any(alive(p) for p in pids))


async def test_processes_that_left_the_group_die_when_the_command_ends(tmp_path: Path) -> None:
    result = await run_process(sh(ESCAPES), cwd=tmp_path, time_limit=60)
    assert result.ok and result.output == "ready\n"
    pids = pids_in(tmp_path / "pids")
    assert len(pids) == 3
    # The call returns only once the supervisor has killed them: no waiting needed.
    assert not any(alive(p) for p in pids)


async def test_a_command_killed_by_a_signal_is_reported_so(tmp_path: Path) -> None:
    result = await run_process(sh("kill -SEGV $$"), cwd=tmp_path, time_limit=60)
    assert result.signal == "SIGSEGV" and result.exit_code is None
    assert not list(tmp_path.glob("core*"))


async def test_a_missing_program_raises_oserror_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        await run_process([str(tmp_path / "no-such-program")], cwd=tmp_path, time_limit=10)
    assert "no-such-program" in str(caught.value)


async def test_the_supervisor_ignores_python_settings_from_the_project(tmp_path: Path) -> None:
    """A hostile project puts a sitecustomize.py on PYTHONPATH; the supervisor's Python never imports it."""
    marker = tmp_path / "PWNED"
    (tmp_path / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(tmp_path), "PYTHONSTARTUP": str(tmp_path / "sitecustomize.py")}
    result = await run_process(sh("echo ran"), cwd=tmp_path, env=env, time_limit=60)
    assert result.ok and result.output == "ran\n"
    assert not marker.exists()


async def test_stopped_and_term_ignoring_escapees_are_killed_on_timeout(tmp_path: Path) -> None:
    """A process that left the group, ignores SIGTERM and stopped itself (SIGSTOP) still goes."""
    script = (
        "setsid sh -c 'trap \"\" TERM; echo $$ >> pids; kill -STOP $$; sleep 1000' & "
        "while [ ! -s pids ]; do sleep 0.05; done; echo ready; wait"
    )
    result = await run_process(sh(script), cwd=tmp_path, time_limit=2.0)
    assert result.timed_out and "ready" in result.output
    pids = pids_in(tmp_path / "pids")
    assert len(pids) == 1
    await wait_until(lambda: not any(alive(p) for p in pids))


def test_ps_and_proc_see_the_same_process_tree() -> None:
    """The ps-based walk (macOS) finds what the /proc walk finds; a zombie counts as gone in both."""
    live = subprocess.Popen(["sleep", "1000"])
    zombie = subprocess.Popen(["true"])
    try:
        guard = time.monotonic() + 30  # a failure guard
        while alive(zombie.pid):  # until it has exited and, unreaped, is a zombie
            assert time.monotonic() < guard
            time.sleep(0.01)
        from_proc = descendants(os.getpid(), proc_table())
        from_ps = descendants(os.getpid(), ps_table())
        assert live.pid in from_proc and live.pid in from_ps
        assert zombie.pid not in from_proc and zombie.pid not in from_ps
    finally:
        live.kill()
        live.wait()
        zombie.wait()
