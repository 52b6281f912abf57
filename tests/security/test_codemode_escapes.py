"""Known Python sandbox escapes, run as `run_code` programs through the real `punie serve`.

The type checker rejects many of them before they run; `tests/codemode/test_sandbox.py` runs
the same battery with type checking off, so the sandbox's runtime is shown to hold on its own
(the type check is a courtesy to the model, not the boundary). Each must fail as a failed
`run_code` call with a readable error; nothing may run, be read or be written outside the
root; the server must keep serving. All programs run in one turn of one server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.security.hostile import SECRET, Outside, assert_contained, run_attack
from tests.support.acp_client import RecordingClient

pytestmark = pytest.mark.anyio

CODE_MODE = ["--tool-style", "code", "--code-time-limit", "2", "--code-memory-mb", "64", "--code-max-calls", "5"]

# (name, program, a fragment the failure must contain); SECRET_FILE and PAYLOAD are filled in.
ESCAPES: list[tuple[str, str, str]] = [
    ("subclasses walk", "().__class__.__base__.__subclasses__()", "__subclasses__"),
    (
        "subclasses search",
        "[c for c in (1).__class__.__mro__[-1].__subclasses__() if c.__name__ == 'Popen'][0]",
        "__class__",
    ),
    ("type.__subclasses__", "type.__subclasses__(object)", "__subclasses__"),
    ("class __mro__", "class A:\n    pass\nA.__mro__[-1].__subclasses__()", "__mro__"),
    ("__import__", "__import__('os').system('PAYLOAD')", "__import__"),
    ("import os.system", "import os\nos.system('PAYLOAD')", "system"),
    ("import subprocess", "import subprocess\nsubprocess.run(['sh', '-c', 'PAYLOAD'])", "subprocess"),
    ("import ctypes", "import ctypes", "ctypes"),
    ("import sys.modules", "import sys\nsys.modules['os'].system('PAYLOAD')", "modules"),
    ("os.environ", "import os\nos.environ", "environ"),
    ("open", "open('SECRET_FILE').read()", "open"),
    ("open for write", "open('MARKER', 'w').write('x')", "open"),
    ("pathlib", "from pathlib import Path\nPath('SECRET_FILE').read_text()", "ermission"),
    ("pathlib write", "from pathlib import Path\nPath('MARKER').write_text('x')", "ermission"),
    ("eval", "eval(\"__import__('os').system('PAYLOAD')\")", "__import__"),
    ("exec", "exec(\"import os\\nos.system('PAYLOAD')\")", "system"),
    ("exec open", "exec(\"print(open('SECRET_FILE').read())\")", "ermission"),
    ("compile", "compile(\"__import__('os')\", 'x', 'exec')", "compile"),
    ("generator frame", "g = (x for x in [1])\ng.gi_frame.f_back.f_globals", "f_back"),
    ("generator function", "def gen():\n    yield 1\ngen().gi_frame.f_globals", "yield"),
    ("function globals", "def f():\n    pass\nf.__globals__['__builtins__']", "__globals__"),
    ("function code", "def f():\n    pass\nf.__code__.co_consts", "__code__"),
    ("traceback frame", "try:\n    1 / 0\nexcept Exception as e:\n    e.__traceback__.tb_frame.f_back", "tb_frame"),
    ("host function globals", "read_file.__globals__", "__globals__"),
    ("host function closure", "read_file.__closure__[0].cell_contents", "not-subscriptable"),
    ("__builtins__ item", "__builtins__['open']('SECRET_FILE')", "__builtins__"),
    ("__builtins__ dict", "__builtins__.__dict__['__import__']('os')", "__builtins__"),
    ("globals()", "globals()['__builtins__']", "globals"),
    ("getattr by string", "getattr(read_file, '__glo' + 'bals__')", "getattr"),
    ("format attribute", "'{0.__class__.__init__.__globals__}'.format(read_file)", "__class__"),
    ("format globals", "'{0.__globals__[os]}'.format(read_file)", "__globals__"),
    ("format_map", "'{x.__class__}'.format_map({'x': 1})", "format_map"),
    ("recursion bomb", "def f(n):\n    return f(n + 1)\nf(0)", "RecursionError"),
    ("memory bomb", "x = 'a' * (10 ** 10)\nlen(x)", "MemoryError"),
    ("memory growth", "chunks = []\nwhile True:\n    chunks.append('x' * 100000)", "MemoryError"),
    ("infinite loop", "while True:\n    pass", "TimeoutError"),
    ("huge output", "while True:\n    print('x' * 100000)", "MemoryError"),
    ("deep nesting", "x = " + "[" * 5000 + "]" * 5000, "too deeply nested"),
    ("big integer bomb", "x = 10 ** (10 ** 8)\nlen(str(x))", "MemoryError"),
    ("dict bomb", "d = {}\nfor i in range(10 ** 9):\n    d[i] = i", "MemoryError"),
    ("huge program", "\n".join(f"v{i} = {i} + {i}" for i in range(100_000)), "MemoryError"),
    ("sleep bomb", "import time\ntime.sleep(10 ** 6)\nraise ValueError('slept')", "slept"),
    ("read outside the root", "await read_file('SECRET_FILE')", "outside the project root"),
    ("write outside the root", "await write_file('../outside/PWNED', 'x')", "outside the project root"),
    ("edit through a traversal", "await edit_file('../outside/credentials', 'aws', 'x')", "outside the project root"),
    ("wrong argument type at runtime", "await read_file(123)  # type: ignore", "bad arguments"),
    ("argument the tool lacks", "await read_file('a', evil=1)  # type: ignore", "evil"),
    ("command the user rejects", "await run_command('PAYLOAD')", "PermissionError"),
    ("too many calls", "for i in range(10):\n    await list_files(pattern=f'*{i}')", "at most 5 tool calls"),
]


def filled(code: str, outside: Outside) -> str:
    return (
        code.replace("SECRET_FILE", str(outside.secret_file))
        .replace("PAYLOAD", outside.payload())
        .replace("MARKER", str(outside.marker))
    )


def run_code_results(client: RecordingClient, session_id: str) -> list[tuple[str, Any]]:
    """(status, rawOutput) of each `run_code` call's final update, in the order they started."""
    started = [e.tool_call_id for e in client.tool_events(session_id) if e.session_update == "tool_call"]
    finals = {
        e.tool_call_id: (e.status, e.raw_output)
        for e in client.tool_events(session_id)
        if e.session_update == "tool_call_update" and e.status in ("completed", "failed")
    }
    return [finals.get(call_id, ("unfinished", None)) for call_id in started if "." not in call_id]


async def test_every_escape_fails_safely_and_the_server_keeps_serving(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    outside = Outside(tmp_path / "outside")
    programs = [filled(code, outside) for _, code, _ in ESCAPES]
    steps = [("run_code", {"code": program}) for program in programs]
    result = await run_attack(root, steps, tmp_path / "logs", args=CODE_MODE)

    assert_contained(result, outside)
    assert result.stop_reason == "end_turn"
    outcomes = run_code_results(result.client, result.session_id)
    assert len(outcomes) == len(programs)
    wrong = []
    for (name, _, fragment), (status, output) in zip(ESCAPES, outcomes, strict=True):
        text = json.dumps(output)
        if status != "failed" or fragment not in text or "punie_acp" in text:
            wrong.append(f"{name}: {status} {text[-300:]}")
    assert not wrong, "\n".join(wrong)
    assert SECRET not in result.shown
