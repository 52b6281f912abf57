"""`punie export`: saved sessions (made by real turns, kept in a real SQLite store) as chat JSONL
that mlx-lm's dataset loader reads and the model's chat template renders in its own tool-call format."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from punie_acp.cli import main as punie
from punie_acp.core.compaction import ELIDED_PREFIX
from punie_acp.core.keeper import dump_history
from punie_acp.store import SessionRecord
from punie_acp.store.sqlite import SqliteStore
from tests.acp.loopback import scripted
from tests.store.harness import served
from tests.support.acp_client import text_prompt
from tests.support.fabricate import write_random_model

READS_HELLO: list[list[dict[str, Any]]] = [
    [{"think": "I should look."}, {"say": "Let me read it."}, {"call": "read_file", "args": {"path": "hello.py"}}],
    [{"say": "It prints hello and sets answer = 42."}],
]


@pytest.fixture(scope="module")
def qwen3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_model(tmp_path_factory.mktemp("models") / "qwen3")


@pytest.fixture(scope="module")
def coder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_model(tmp_path_factory.mktemp("models") / "coder", template="qwen3_coder")


def run_turns(db: Path, cwd: Path, responses: list[list[dict[str, Any]]], prompts: Sequence[str]) -> str:
    """One session made the way `punie serve` makes it: real turns, saved to the store at `db`."""

    async def go() -> str:
        async with served(SqliteStore(db), scripted(responses)) as lb:
            sid = (await lb.conn.new_session(cwd=str(cwd), mcp_servers=[])).session_id
            for prompt in prompts:
                await lb.conn.prompt(session_id=sid, prompt=text_prompt(prompt))
            return str(sid)

    return anyio.run(go)


def save_session(
    db: Path, sid: str, cwd: Path, history: list[ModelMessage], created: datetime, title: str | None = None
) -> None:
    async def go() -> None:
        store = SqliteStore(db)
        store.create(SessionRecord(sid, str(cwd), created, created, title=title or sid))
        store.save_history(sid, dump_history(history))
        await store.aclose()

    anyio.run(go)


def export(db: Path, *args: str) -> int:
    return punie(["export", *args, "--session-store", str(db)])


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def call_history(call_args: str | dict[str, Any], result: str | None, name: str = "read_file") -> list[ModelMessage]:
    history: list[ModelMessage] = [
        ModelRequest(parts=[UserPromptPart("read it")]),
        ModelResponse(parts=[ToolCallPart(name, call_args, "c1")]),
    ]
    if result is not None:
        history.append(ModelRequest(parts=[ToolReturnPart(name, result, "c1")]))
        history.append(ModelResponse(parts=[TextPart("done")]))
    return history


def test_real_sessions_export_with_their_real_tool_calls_and_results(
    tmp_path: Path, project: Path, qwen3_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "sessions.db"
    run_turns(db, project, READS_HELLO, ["What does hello.py do?"])
    out = tmp_path / "train.jsonl"
    assert export(db, str(out), "--tokenizer", str(qwen3_dir)) == 0
    assert "wrote 1 session" in capsys.readouterr().out
    [line] = lines_of(out)
    messages = line["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert messages[1]["content"] == "What does hello.py do?"
    call = messages[2]
    assert call["content"] == "Let me read it." and call["reasoning_content"] == "I should look."
    [tool_call] = call["tool_calls"]
    assert tool_call["function"] == {"name": "read_file", "arguments": {"path": "hello.py"}}  # an object
    assert messages[3]["tool_call_id"] == tool_call["id"]
    assert "answer = 42" in messages[3]["content"]  # the real result, not a placeholder
    assert messages[4]["content"] == "It prints hello and sets answer = 42."
    assert "read_file" in [t["function"]["name"] for t in line["tools"]]
    assert out.stat().st_mode & 0o077 == 0  # conversations stay private


@pytest.mark.parametrize(
    ("template", "rendered"), [("qwen3", '<tool_call>\n{"name": "read_file"'), ("coder", "<function=read_file>")]
)
def test_the_model_template_renders_the_calls_in_its_own_format(
    template: str, rendered: str, tmp_path: Path, project: Path, qwen3_dir: Path, coder_dir: Path
) -> None:
    from types import SimpleNamespace

    from mlx_lm.tuner.datasets import load_dataset
    from mlx_lm.utils import load_tokenizer

    model_dir = {"qwen3": qwen3_dir, "coder": coder_dir}[template]
    db = tmp_path / "sessions.db"
    run_turns(db, project, READS_HELLO, ["What does hello.py do?"])
    data = tmp_path / "data"
    data.mkdir()
    assert export(db, str(data / "train.jsonl"), "--tokenizer", str(model_dir)) == 0
    tokenizer = load_tokenizer(model_dir)  # type: ignore[no-untyped-call]
    train, _, _ = load_dataset(SimpleNamespace(data=str(data), hf_dataset=False, train=True, test=False), tokenizer)
    tokens, _ = train.process(train[0])  # what mlx_lm.lora trains on
    text = tokenizer.decode(tokens)
    assert rendered in text and "hello.py" in text and "<tool_response>" in text
    assert "answer = 42" in text


def test_sessions_without_faithful_results_are_skipped_and_counted(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "sessions.db"
    now = datetime.now(UTC)
    save_session(db, "complete", project, call_history({"path": "a"}, "real contents"), now)
    save_session(db, "cancelled", project, call_history({"path": "a"}, None), now)
    save_session(db, "shortened", project, call_history({"path": "a"}, f"{ELIDED_PREFIX}: 900 characters]"), now)
    save_session(db, "broken", project, call_history('{"path": ', "Fix the JSON"), now)
    save_session(db, "surrogate", project, call_history({"path": "a"}, "bad \ud800 text"), now)
    out = tmp_path / "train.jsonl"
    assert export(db, str(out)) == 0
    summary = capsys.readouterr().out
    assert "wrote 1 session" in summary and "skipped 4 sessions" in summary
    for reason in ("a tool call without its result", "tool results shortened", "could not be parsed", "Unicode"):
        assert reason in summary
    [line] = lines_of(out)
    assert line["messages"][2]["content"] == "real contents"
    assert "not checked: pass --tokenizer" in summary  # said, not silently skipped


def test_filters_by_project_date_and_good_mark(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "sessions.db"
    other = tmp_path / "other"
    other.mkdir()
    history = call_history({"path": "a"}, "x")
    save_session(db, "old", project, history, datetime(2026, 1, 10, 12, tzinfo=UTC))
    save_session(db, "mid", project, history, datetime(2026, 3, 5, 12, tzinfo=UTC))
    save_session(db, "elsewhere", other, history, datetime(2026, 3, 6, 12, tzinfo=UTC))
    save_session(db, "escapes", other, history, datetime(2025, 1, 1, tzinfo=UTC), title="\x1b[2Jgone\nline")

    def ids(*args: str) -> int:
        """How many sessions an export with these filters writes."""
        out = tmp_path / "out.jsonl"
        code = export(db, str(out), "--force", *args)
        err = capsys.readouterr().err
        if code == 1 and "no session to export" in err:
            return 0
        assert code == 0, err
        return len(lines_of(out))

    assert ids() == 4
    assert ids("--project", str(project)) == 2
    assert ids("--project", str(project) + "/") == 2  # the same directory spelled another way
    assert ids("--since", "2026-03-01") == 2
    assert export(db, "--list", "--until", "2025-12-31") == 0
    assert capsys.readouterr().out.rstrip().endswith("?[2Jgone?line")  # no escape reaches the terminal
    assert ids("--until", "2026-03-05") == 3  # the whole day (and the 2025 one)
    assert ids("--since", "2026-03-01", "--until", "2026-03-05", "--project", str(other)) == 0
    assert ids("--good-only") == 0
    assert not (tmp_path / "none.jsonl").exists()
    assert export(db, "--mark-good", "mid", "elsewhere") == 0
    assert "marked good: mid (mid), elsewhere (elsewhere)" in capsys.readouterr().out
    assert export(db, "--list", "--project", str(project)) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == ["old", "mid"]  # oldest first, this project only
    assert "good" not in listed[0] and f"  good  {project}  mid" in listed[1]
    assert ids("--good-only") == 2
    assert export(db, "--unmark-good", "elsewhere") == 0
    assert ids("--good-only", "--project", str(project)) == 1
    assert ids("--good-only", "--project", str(other)) == 0
    assert export(db, "--mark-good", "no-such-session") == 1
    assert "no saved session 'no-such-session'" in capsys.readouterr().err


def test_an_existing_file_is_kept_unless_forced_and_a_failed_check_writes_nothing(
    tmp_path: Path, project: Path, qwen3_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "sessions.db"
    save_session(db, "s", project, call_history({"path": "a"}, "contents"), datetime.now(UTC))
    out = tmp_path / "train.jsonl"
    out.write_text("precious\n")
    assert export(db, str(out)) == 2
    assert capsys.readouterr().err.strip() == f"punie: {out} exists; pass --force to replace it"
    assert out.read_text() == "precious\n"

    broken = tmp_path / "broken-model"
    broken.mkdir()
    for name in ("tokenizer.json", "config.json"):
        (broken / name).write_bytes((qwen3_dir / name).read_bytes())
    config = json.loads((qwen3_dir / "tokenizer_config.json").read_text())
    config["chat_template"] = "{{ raise_exception('this template refuses tools') }}"
    (broken / "tokenizer_config.json").write_text(json.dumps(config))
    assert export(db, str(out), "--force", "--tokenizer", str(broken)) == 1
    err = capsys.readouterr().err
    assert err.startswith("punie: line 1 of ") and "does not render with the chat template" in err
    assert out.read_text() == "precious\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".train")) == []  # no temporary left

    assert export(db, str(out), "--force", "--tokenizer", str(qwen3_dir)) == 0
    assert lines_of(out)[0]["messages"][2]["content"] == "contents"
    assert export(db, str(tmp_path)) == 2
    assert "is a directory" in capsys.readouterr().err


def test_a_session_marked_good_still_loads_and_continues(tmp_path: Path, project: Path) -> None:
    db = tmp_path / "sessions.db"
    sid = run_turns(db, project, [*READS_HELLO, [{"say": "again"}]], ["What does hello.py do?"])
    assert export(db, "--mark-good", sid) == 0

    async def reopen() -> str:
        async with served(SqliteStore(db), scripted([[{"say": "continued"}]])) as lb:
            await lb.conn.load_session(cwd=str(project), session_id=sid, mcp_servers=[])
            kinds = [u.session_update for u in lb.client.updates[sid]]
            await lb.conn.prompt(session_id=sid, prompt=text_prompt("more"))
            return ",".join(dict.fromkeys(kinds)) + "|" + lb.client.message_text(sid)

    kinds, text = anyio.run(reopen).split("|")
    assert "tool_call" in kinds and text.endswith("continued")


def test_nothing_to_export_without_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert export(tmp_path / "missing.db", str(tmp_path / "out.jsonl")) == 1
    assert capsys.readouterr().err.strip() == f"punie: no session store at {tmp_path / 'missing.db'}; nothing to export"
    assert not (tmp_path / "missing.db").exists()  # looking does not create one
