"""Model directories built on disk once per test session, loaded through the real mlx path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from punie_acp.config import Settings
from punie_acp.models.mlx import MlxBackend
from tests.support.fabricate import TINY, TINY_MOE, Script, write_random_model, write_scripted_model

TOOL_CALL = '\n{"name": "read_file", "arguments": {"path": "notes.txt"}}\n'
THINKING = "\nThe user wants notes.txt, so I will read it.\n"
ANSWER = ("The notes say", " hello", " from the tool.")

JSON_FIRST = Script(("<think>", THINKING, "</think>", "\n\n", "<tool_call>", TOOL_CALL, "</tool_call>"))
XML_CALL = "\n<function=read_file>\n<parameter=path>\nnotes.txt\n</parameter>\n" + (
    "<parameter=limit>\n3\n</parameter>\n</function>\n"
)
XML_FIRST = Script(("I will look.\n", "<tool_call>", XML_CALL, "</tool_call>"))
AFTER_TOOL = Script(ANSWER)
DIRECT = Script(("Hello", "!", " I am", " a", " tiny", " scripted", " model."))
LOOPING = Script((" again", " and"), loop=True)
BROKEN_CALL = Script(("<tool_call>", '\n{"name": "read_file", "arguments": {"path": "notes.txt"\n', "</tool_call>"))
RUNS_ON = Script(("Done", ".", "<|im_start|>", "user\nInvented question?"))
# For the ACP server: a call to punie's own read_file tool on the test project's hello.py.
ACP_FIRST = Script(
    (
        "<think>",
        "\nLet me open hello.py.\n",
        "</think>",
        "\n\n",
        "<tool_call>",
        '\n{"name": "read_file", "arguments": {"path": "hello.py"}}\n',
        "</tool_call>",
    )
)
ACP_ANSWER = Script(("hello.py", " prints", " hello", " and", " sets", " answer."))
# 70 distinct pieces in a loop: never ends, but is no degenerate repetition either.
ENDLESS = Script(tuple(f" w{i}" for i in range(70)), loop=True)

MakeBackend = Callable[..., Awaitable[MlxBackend]]


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        "json": write_scripted_model(root / "json", JSON_FIRST, AFTER_TOOL),
        "xml": write_scripted_model(root / "xml", XML_FIRST, AFTER_TOOL, template="qwen3_coder"),
        "direct": write_scripted_model(root / "direct", DIRECT),
        "looping": write_scripted_model(root / "looping", LOOPING),
        "broken": write_scripted_model(root / "broken", BROKEN_CALL, AFTER_TOOL),
        "runs_on": write_scripted_model(root / "runs_on", RUNS_ON),
        "acp": write_scripted_model(root / "acp", ACP_FIRST, ACP_ANSWER),
        "endless": write_scripted_model(root / "endless", ENDLESS),
        "random": write_random_model(root / "random", TINY),
        "moe": write_random_model(root / "moe", TINY_MOE, template="qwen3_coder"),
    }


async def _no_progress(text: str) -> None:
    return None


@pytest.fixture
async def make_backend() -> AsyncIterator[MakeBackend]:
    made: list[MlxBackend] = []

    async def make(path: Path, prefill_step: int | None = None, **settings: Any) -> MlxBackend:
        backend = MlxBackend(str(path), Settings(**settings), prefill_step=prefill_step)
        made.append(backend)
        backend.start_loading()
        await backend.ensure_ready(_no_progress)
        return backend

    yield make
    for backend in made:
        await backend.aclose()
