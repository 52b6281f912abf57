"""`--model SPEC` that cannot work is refused with one line saying what to pass, never a traceback or a hang."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from punie_acp.config import Settings
from punie_acp.models.base import ModelNotAvailable
from punie_acp.models.registry import resolve_backend


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("", "--model is empty"),
        ("   ", "--model is empty"),
        ("http://[::1", "not a usable URL"),
        ("http://", "names no host"),
        ("https://:8080/v1", "names no host"),
        ("http://127.0.0.1:99999/v1", "not a usable URL"),
        ("http://127.0.0.1:port/v1", "not a usable URL"),
        ("http://127.0.0.1:0/v1", "port 0"),
        ("ftp://example/model", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
    ],
)
def test_unusable_model_specs_are_refused(spec: str, says: str) -> None:
    with pytest.raises(ModelNotAvailable) as info:
        resolve_backend(spec, Settings())
    message = str(info.value)
    assert says in message and "\n" not in message
    assert "http://host:port/v1" in message  # and what to pass instead


def test_a_script_that_is_not_a_regular_file_is_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "script.json"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    for path in (fifo, Path("/dev/zero"), tmp_path):
        with pytest.raises(ModelNotAvailable, match=r"not a regular file|Is a directory"):
            resolve_backend(f"script:{path}", Settings())


@pytest.mark.parametrize(
    "script",
    [
        {"chunk_delay": "slow", "responses": [[{"say": "x"}]]},
        {"chunk_delay": 1e9, "responses": [[{"say": "x"}]]},
        {"chunk_delay": -1, "responses": [[{"say": "x"}]]},
        {"responses": [[{"call": "read_file", "args": [1, 2]}]]},
        {"responses": [[{"call": "read_file", "args": 3}]]},
    ],
)
def test_bad_script_values_are_one_line(tmp_path: Path, script: object) -> None:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))
    with pytest.raises(ModelNotAvailable) as info:
        resolve_backend(f"script:{path}", Settings())
    assert str(info.value).startswith(f"model script {path}")


def test_a_deeply_nested_script_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelNotAvailable, match="model script"):
        resolve_backend(f"script:{path}", Settings())
