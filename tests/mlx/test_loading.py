"""Finding and loading models: clear errors, measured progress, MoE, speculative decoding."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlx_lm import load, stream_generate
from tokenizers import Tokenizer
from transformers import AutoTokenizer

from punie_acp.config import Settings
from punie_acp.models.base import ModelNotAvailable
from punie_acp.models.mlx import MlxBackend
from punie_acp.models.mlx.loading import LoadProgress, load_model
from tests.mlx.agents import Tools, make_agent, stream_run
from tests.mlx.conftest import ANSWER, JSON_FIRST, MakeBackend

pytestmark = pytest.mark.anyio


async def _ignore(text: str) -> None:
    return None


async def _failure(spec: str) -> str:
    backend = MlxBackend(spec, Settings())
    try:
        with pytest.raises(ModelNotAvailable) as caught:
            await backend.ensure_ready(_ignore)
        with pytest.raises(ModelNotAvailable):  # a turn started anyway fails the same way
            await make_agent(backend, "s1").run("hi")
    finally:
        await backend.aclose()
    return str(caught.value)


async def test_missing_model_directory(tmp_path: Path) -> None:
    message = await _failure(str(tmp_path / "no-such-model"))
    assert str(tmp_path / "no-such-model") in message and "does not exist" in message


async def test_directory_that_is_not_a_model(tmp_path: Path) -> None:
    message = await _failure(str(tmp_path))
    assert str(tmp_path) in message and "no config.json" in message


async def test_repo_id_not_downloaded_while_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    message = await _failure("mlx-community/not-here-4bit")
    assert "mlx-community/not-here-4bit" in message and "hf download mlx-community/not-here-4bit" in message


def test_load_progress_measures_the_weights(model_dirs: dict[str, Path]) -> None:
    reports: list[LoadProgress] = []
    loaded = load_model(str(model_dirs["random"]), None, reports.append)
    stages = [r.stage for r in reports]
    assert stages[0] == "starting mlx" and "reading model config and tokenizer" in stages
    weights = [r for r in reports if r.stage == "reading model weights"]
    assert weights[0].done == 0 and weights[-1].done == weights[-1].total > 0
    assert [r.done for r in weights] == sorted(r.done for r in weights)
    assert "100%" in weights[-1].describe("tiny")
    assert loaded.tokenizer.convert_tokens_to_ids("<|im_end|>") in loaded.tokenizer.eos_token_ids
    assert loaded.tokenizer.convert_tokens_to_ids("<|endoftext|>") in loaded.tokenizer.eos_token_ids


async def test_progress_callback_reports_loading(model_dirs: dict[str, Path]) -> None:
    backend = MlxBackend(str(model_dirs["random"]), Settings())
    seen: list[str] = []

    async def record(text: str) -> None:
        seen.append(text)

    try:
        await backend.ensure_ready(record)  # not started yet: ensure_ready starts it
    finally:
        await backend.aclose()
    assert seen and all(text.startswith("Loading random:") for text in seen)


def test_fabricated_model_loads_with_plain_mlx_lm(model_dirs: dict[str, Path]) -> None:
    path = model_dirs["json"]
    sample = "Hello  world!\n\n  def f(x): return {'a': 1}  ünïcödé 123\r\n<|im_start|>user<tool_call>"
    raw = Tokenizer.from_file(str(path / "tokenizer.json"))
    assert AutoTokenizer.from_pretrained(str(path)).encode(sample, add_special_tokens=False) == raw.encode(sample).ids
    model, tokenizer = load(str(path))[:2]
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True)  # type: ignore[no-untyped-call]
    assert "".join(r.text for r in stream_generate(model, tokenizer, prompt, max_tokens=50)) == JSON_FIRST.text


async def test_moe_model_generates(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    backend = await make_backend(model_dirs["moe"])
    run = await stream_run(make_agent(backend, "s1"), "hi", model_settings={"max_tokens": 6})
    stats = backend.engine.history[-1]
    assert stats.finish in ("stop", "length", "repetition") and 0 < stats.generated_tokens <= 6
    assert run.responses()[0].usage.input_tokens == stats.prompt_tokens > 0


async def test_speculative_decoding_with_a_draft_model(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    backend = await make_backend(model_dirs["json"], draft_model=str(model_dirs["json"]), num_draft_tokens=2)
    assert backend.engine.loaded is not None and backend.engine.loaded.draft is not None
    tools = Tools()
    run = await stream_run(make_agent(backend, "s1", tools), "What do my notes say?")
    assert tools.calls == [{"path": "notes.txt", "limit": 0}]
    assert run.result.output == "".join(ANSWER)
    call, answer = backend.engine.history
    assert answer.cached_tokens == call.prompt_tokens + call.generated_tokens  # main and draft caches reused
