from __future__ import annotations

from pathlib import Path

import pytest

from punie_acp.models.base import ModelNotAvailable
from punie_acp.models.replay import Call, Say, Think, chunks
from punie_acp.models.scripted import ScriptedBackend, ScriptError, parse_script


def test_parse_script_steps_and_finish() -> None:
    plans, delay = parse_script(
        {
            "chunk_delay": 0.1,
            "responses": [
                [{"think": "t"}, {"say": "s"}, {"call": "read_file", "args": {"path": "a"}}, {"finish": "length"}]
            ],
        }
    )
    assert delay == 0.1
    assert plans[0].steps == [Think("t"), Say("s"), Call("read_file", {"path": "a"})]
    assert plans[0].finish == "length"


@pytest.mark.parametrize(
    "data",
    [{}, {"responses": []}, {"responses": [{}]}, {"responses": [[{"dance": 1}]]}, {"responses": [[{"finish": "x"}]]}],
)
def test_bad_scripts_are_refused(data: object) -> None:
    with pytest.raises(ScriptError):
        parse_script(data)


def test_backend_reports_missing_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailable, match="cannot read"):
        ScriptedBackend(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ModelNotAvailable, match="not valid JSON"):
        ScriptedBackend(broken)


def test_chunks_keep_every_character() -> None:
    text = "  two  words\nand more "
    assert "".join(chunks(text)) == text
    assert len(chunks(text)) > 3
