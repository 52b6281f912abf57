"""Prompt-lookup decoding: decode speed with and without drafts, on replies that copy their context.

    python benchmarks/mlx_lookup.py                      # CPU-sized models, a few minutes on 2 cores
    python benchmarks/mlx_lookup.py --scale              # mlx_scale.py's GPU shapes: moe (4-bit), dense (bf16)
    python benchmarks/mlx_lookup.py --scale --models moe # one of them

A model whose output really copies its context is needed (random weights make every draft
wrong), so the models are fabricated the way `mlx_scale.py` makes its GPU-shaped ones — random
layers with `o_proj`/`down_proj` scaled by 1e-3, so the residual stream stays the token
embedding — plus `lm_head` rows that make greedy decoding follow chains of tokens A→B. The
context is a 200-line file (`billing.py`, three tokens a line) the model "read" in this turn:

- edit: an `edit_file` call (qwen3_coder XML) whose `old_text` copies 40 lines of the file and
  whose `new_text` copies 40 more with 3 lines changed. (A chain emits each token once, so
  `new_text` copies the lines after `old_text` rather than repeating it: the same copying, with
  the same number of divergences, as repeating `old_text` with 3 edits.)
- rewrite: the 120 remaining lines written out again with 4 small changes;
- answer: 200 words that appear nowhere in the context in that order (nothing to copy; the words
  themselves are in the user message, shuffled, so drafts are tempted now and then).
Decode tokens/s is taken at the engine's output (first to last token of the reply), with lookup
and without, alternating, median of --repeats. Then a session of five tool turns (each turn the
same edit call, which the agent runs) through PydanticAI: punie with lookup, without, and
PydanticAI → HTTP → `mlx_lm.server` on the same model directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"
if Path(OPENBLAS).exists() and OPENBLAS not in os.environ.get("LD_PRELOAD", ""):
    os.environ["LD_PRELOAD"] = OPENBLAS
    # One BLAS thread: on a few shared cores, OpenBLAS's spinning threads make timings a lottery.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.execv(sys.executable, [sys.executable, *sys.argv])

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic_ai import Agent  # noqa: E402
from pydantic_ai.exceptions import UsageLimitExceeded  # noqa: E402
from pydantic_ai.messages import ModelResponse, ToolCallPart  # noqa: E402
from pydantic_ai.settings import ModelSettings  # noqa: E402
from pydantic_ai.usage import UsageLimits  # noqa: E402

from benchmarks.scale_models import DENSE, MOE, QWEN_VOCAB, random_layers, save  # noqa: E402
from benchmarks.tool_turns import mlx_server  # noqa: E402
from punie_acp.config import Settings  # noqa: E402
from punie_acp.models.mlx import MlxBackend  # noqa: E402
from punie_acp.models.mlx.jobs import Finished, GenerationRequest, JobStats, RenderedPrompt, Sampling, Text  # noqa: E402
from punie_acp.models.mlx.lookup import LookupConfig  # noqa: E402
from tests.support.fabricate import ModelShape, _model_config, _prepare  # noqa: E402

CPU_SMALL = ModelShape(hidden_size=512, num_hidden_layers=4, intermediate_size=1536, num_attention_heads=8,
                       num_key_value_heads=4, head_dim=64, bpe_vocab=2048)  # fmt: skip
CPU_MID = ModelShape(hidden_size=1024, num_hidden_layers=8, intermediate_size=3072, num_attention_heads=16,
                     num_key_value_heads=8, head_dim=64, bpe_vocab=2048)  # fmt: skip
CHAIN_LOGIT = 30.0  # what a chain's next token scores; random rows score a few units at most
Row = tuple[str, str, str, str, str]
ROWS: list[Row] = []


# The scripted context and replies ---------------------------------------------------------------


def _line(i: int) -> list[str]:
    return [f"    total_{i:03d}", f" = compute(price_{i:03d}", f", n_{i:03d})\n"]


def _changed(i: int) -> list[str]:
    return [f"    total_{i:03d}", f" = compute(price_{i:03d} * TAX_RATE", f", n_{i:03d})\n"]


FILE_PIECES = [piece for i in range(200) for piece in _line(i)]
FILE_TEXT = "".join(FILE_PIECES)
EDIT_HEAD = "\n<function=edit_file>\n<parameter=path>\nbilling.py\n</parameter>\n<parameter=old_text>\n"
EDIT_MID = "</parameter>\n<parameter=new_text>\n"
EDIT_TAIL = "</parameter>\n</function>\n"
EDIT = (
    ["<tool_call>", EDIT_HEAD]
    + [p for i in range(80, 120) for p in _line(i)]
    + [EDIT_MID]
    + [p for i in range(120, 160) for p in (_changed(i) if i in (127, 139, 151) else _line(i))]
    + [EDIT_TAIL, "</tool_call>"]
)
REWRITE = (
    ["Here is billing.py with the tax applied:\n"]
    + [p for i in [*range(80), *range(160, 200)] for p in (_changed(i) if i in (12, 40, 66, 181) else _line(i))]
    + ["Done."]
)
ANSWER = ["Summary:"] + [f" word{i:03d}" for i in range(200)]
_shuffled = ANSWER[1:]
random.Random(5).shuffle(_shuffled)
USER = "Apply the tax rate in billing.py. read_file returned:\n" + FILE_TEXT + "\nNotes:" + "".join(_shuffled) + "\n"
CHAINS = {"edit": EDIT, "rewrite": REWRITE, "answer": ANSWER}


# Fabrication ------------------------------------------------------------------------------------


def fabricate(path: Path, shape: ModelShape, bits: int | None, dtype: str, vocab: int | None) -> Path:
    """A loadable qwen3 / qwen3_moe directory whose greedy replies follow `CHAINS` (skipped if there)."""
    if (path / "config.json").exists():
        return path
    import mlx.core as mx
    from mlx_lm.utils import _get_classes
    from tokenizers import Tokenizer

    pieces = [p for chain in CHAINS.values() for p in chain] + FILE_PIECES
    n_tokens, eos = _prepare(path, "qwen3_coder", pieces, shape.bpe_vocab)
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    plain = tokenizer.get_vocab_size(with_added_tokens=False)
    vocab = vocab or (n_tokens + 63) // 64 * 64
    config = _model_config(shape, vocab, eos, tie=False)
    config["torch_dtype"] = dtype
    model_class, args_class = _get_classes(config)
    mx.random.seed(0)
    model = model_class(args_class.from_dict(config))
    target = getattr(mx, dtype)

    quantization = random_layers(model, shape, bits, target)

    ids = {p: _single(tokenizer, p) for p in pieces}
    trigger = _trigger(path)
    hidden = shape.hidden_size
    marker = mx.zeros((vocab, hidden)).at[:, 0].add(1.0)  # a constant on axis 0 of every embedding
    embed = mx.random.normal((vocab, hidden)) * 0.02
    embed = embed * (1 - marker) + marker
    chain_ids = {ids[p] for chain in CHAINS.values() for p in chain} | {eos}
    allowed = mx.zeros((vocab,)).at[mx.array(sorted(chain_ids))].add(1.0)
    banned = ((mx.arange(vocab) >= plain) * (1 - allowed))[:, None] * marker  # padded and unused added ids
    head = mx.random.normal((vocab, hidden)) * 0.02 * (1 - marker) - 40.0 * banned
    rms = mx.sqrt(mx.mean(embed * embed, axis=1))
    signal = embed * (1 - marker)
    gain = CHAIN_LOGIT * rms / mx.sum(signal * signal, axis=1)  # logit ≈ CHAIN_LOGIT on the normed residual
    links: list[tuple[int, int]] = []
    for name, chain in CHAINS.items():
        tokens = [ids[p] for p in chain]
        if name == "edit":
            links.append((trigger, tokens[0]))  # the other replies' first token is given in the prompt
        links += list(zip(tokens, [*tokens[1:], eos], strict=True))
    before, after = mx.array([a for a, _ in links]), mx.array([b for _, b in links])
    head = head.at[after].add(gain[before][:, None] * signal[before])
    model.model.embed_tokens.weight = embed.astype(target)
    model.lm_head.weight = head.astype(target)
    model.model.norm.set_dtype(target)
    save(path, model, config, bits, quantization)
    (path / "chain-trigger.json").write_text(json.dumps({"trigger": trigger}), encoding="utf-8")
    print(f"fabricated {path.name}", file=sys.stderr, flush=True)
    return path


def _single(tokenizer: Any, piece: str) -> int:
    encoded = tokenizer.encode(piece, add_special_tokens=False).ids
    if len(encoded) != 1:
        raise ValueError(f"piece {piece!r} is {len(encoded)} tokens")
    return int(encoded[0])


def _trigger(path: Path) -> int:
    """The last token of a rendered chat with the generation prompt."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                             add_generation_prompt=True)  # fmt: skip
    return int(tokenizer.encode(rendered, add_special_tokens=False)[-1])


# Decode tasks -----------------------------------------------------------------------------------


@dataclass
class Run:
    rate: float  # tokens/s, first to last token
    cpu_ms: float  # this process's CPU time per token over the same span (steadier on a shared machine)
    text: str
    stats: JobStats


def prompts(backend: MlxBackend) -> dict[str, list[int]]:
    """Each task's prompt: the chat with the file, plus the reply's first token where it is given."""
    loaded = backend.engine.loaded
    assert loaded is not None
    tokenizer = loaded.tokenizer
    chat = [int(t) for t in tokenizer.apply_chat_template([{"role": "user", "content": USER}],
                                                          add_generation_prompt=True)]  # fmt: skip
    first = {name: int(tokenizer.encode(chain[0], add_special_tokens=False)[0]) for name, chain in CHAINS.items()}
    return {"edit": chat, "rewrite": [*chat, first["rewrite"]], "answer": [*chat, first["answer"]]}


async def decode_once(backend: MlxBackend, session: str, prompt: list[int], lookup: LookupConfig | None) -> Run:
    engine = backend.engine
    engine.lookup = lookup
    request = GenerationRequest(session, lambda tokenizer: RenderedPrompt(list(prompt), ""), Sampling(max_tokens=1500))
    stamps: list[float] = []
    cpu: list[float] = []
    texts: list[str] = []
    stats: JobStats | None = None
    async for batch in engine.submit(request).batches():
        for event in batch:
            if isinstance(event, Text):
                stamps.append(time.perf_counter())
                cpu.append(time.process_time())
                texts.append(event.text)
            elif isinstance(event, Finished):
                stats = event.stats
    assert stats is not None and len(stamps) > 1
    n = stats.generated_tokens - 1
    return Run(n / (stamps[-1] - stamps[0]), (cpu[-1] - cpu[0]) * 1000 / n, "".join(texts), stats)


async def decode_rows(name: str, backend: MlxBackend, config: LookupConfig, repeats: int) -> None:
    for task, prompt in prompts(backend).items():
        expected = "".join(CHAINS[task][0 if task == "edit" else 1 :])
        runs: dict[str, list[Run]] = {"on": [], "off": []}
        # Prefill once (the cache holds the prompt from then on) and compile the verification passes.
        await decode_once(backend, f"{task}-warm", prompt, config)
        for _ in range(repeats * (3 if task == "answer" else 1)):  # the smallest effect gets the most runs
            for mode in ("off", "on"):
                run = await decode_once(backend, f"{task}-warm", prompt, config if mode == "on" else None)
                # (the streaming detokenizer drops a reply's leading space)
                assert run.text.lstrip() == expected.lstrip(), (task, mode, run.text[:200])
                runs[mode].append(run)
        on, off = (statistics.median(r.rate for r in runs[m]) for m in ("on", "off"))
        cpu_on, cpu_off = (statistics.median(r.cpu_ms for r in runs[m]) for m in ("on", "off"))
        last = runs["on"][-1].stats
        accept = last.accepted_tokens / max(1, last.drafted_tokens)
        target = "≥1.5x" if task != "answer" else "≥0.97x"
        row(f"{name}: {task} ({last.generated_tokens} tokens) decode tok/s, median of {len(runs['on'])}", f"{on:.1f}",
            f"{off:.1f} without lookup", f"{on / off:.2f}x", target)  # fmt: skip
        if not mx_cuda():
            row(f"{name}: {task} CPU ms per token (process time)", f"{cpu_on:.2f}", f"{cpu_off:.2f} without lookup",
                f"{cpu_on / cpu_off:.2f}x", "≤1.03x" if task == "answer" else "-")  # fmt: skip
        row(f"{name}: {task} drafts accepted / passes", f"{accept:.0%} of {last.drafted_tokens}",
            f"{last.verifications} verification passes", f"{last.generated_tokens / max(1, last.verifications):.1f} "
            "tok/pass", "-")  # fmt: skip
        backend.forget_session(f"{task}-warm")


def mx_cuda() -> bool:
    import mlx.core as mx

    return bool(mx.cuda.is_available())


# Five tool turns --------------------------------------------------------------------------------


async def tool_session(model: Any, run: int) -> tuple[float, list[ModelResponse]]:
    """Five requests, each answered with the edit call, which runs; wall time and the responses."""
    agent: Agent[None, str] = Agent(model, instructions=f"Session {run}. You edit files.")
    responses: list[ModelResponse] = []

    @agent.tool_plain
    def edit_file(path: str, old_text: str, new_text: str) -> str:
        """Replace old_text by new_text in a file of the project."""
        return f"Edited {path}: {len(old_text.splitlines())} lines replaced."

    started = time.perf_counter()
    settings = ModelSettings(max_tokens=1500, temperature=0.0)
    async with agent.iter(USER, usage_limits=UsageLimits(request_limit=5), model_settings=settings) as agent_run:
        with contextlib.suppress(UsageLimitExceeded):  # the 6th request is refused: 5 turns done
            async for node in agent_run:
                if Agent.is_call_tools_node(node):
                    responses.append(node.model_response)
    wall = time.perf_counter() - started
    calls = [p for r in responses for p in r.parts if isinstance(p, ToolCallPart) and p.tool_name == "edit_file"]
    assert len(responses) == 5 and len(calls) == 5, responses
    return wall, responses


async def session_rows(name: str, path: Path, backend: MlxBackend, config: LookupConfig, repeats: int) -> None:
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    walls: dict[str, list[float]] = {"on": [], "off": [], "http": []}
    with mlx_server(path) as url:
        http_model = OpenAIChatModel("default_model", provider=OpenAIProvider(base_url=url, api_key="none"))
        for run in range(repeats):
            for mode in ("on", "off", "http"):
                if mode == "http":
                    walls[mode].append((await tool_session(http_model, 3 * run + 2))[0])
                    continue
                backend.engine.lookup = config if mode == "on" else None
                salt = 3 * run + (0 if mode == "on" else 1)  # no two sessions share a cacheable prefix
                walls[mode].append((await tool_session(backend.model_for(f"{mode}{run}"), salt))[0])
                backend.forget_session(f"{mode}{run}")
    on, off, http = (min(walls[k]) for k in ("on", "off", "http"))
    row(f"{name}: 5 tool turns (edit call each) wall, best of {repeats}", f"{on:.2f} s",
        f"{off:.2f} s without lookup; {http:.2f} s via HTTP mlx_lm.server",
        f"{off / on:.2f}x / {http / on:.2f}x faster", "≥1.5x faster than HTTP")  # fmt: skip


# Driver -----------------------------------------------------------------------------------------


def row(metric: str, value: str, baseline: str, ratio: str, target: str) -> None:
    ROWS.append((metric, value, baseline, ratio, target))
    print(f"  {metric}: {value} | {baseline} | {ratio}", file=sys.stderr, flush=True)


async def measure(name: str, path: Path, config: LookupConfig, repeats: int, sessions: bool) -> None:
    backend = MlxBackend(str(path), Settings(prompt_lookup=True))

    async def ignore(text: str) -> None:
        return None

    await backend.ensure_ready(ignore)
    await decode_rows(name, backend, config, repeats)
    if sessions:
        await session_rows(name, path, backend, config, max(1, repeats - 1))
    await backend.aclose()


MODELS: dict[str, tuple[ModelShape, int | None, str, int | None]] = {
    "cpu-small": (CPU_SMALL, None, "float32", None),
    "cpu-mid": (CPU_MID, None, "float32", None),
    "moe": (MOE, 4, "bfloat16", QWEN_VOCAB),
    "dense": (DENSE, None, "bfloat16", QWEN_VOCAB),
}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", action="store_true", help="the GPU-shaped models (moe 4-bit, dense bf16)")
    parser.add_argument("--models", default="", help="comma-separated: cpu-small,cpu-mid (default) or moe,dense")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/punie-bench-models"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--draft", type=int, default=Settings().lookup_draft_tokens, help="most tokens a draft")
    parser.add_argument("--ngram", type=int, default=Settings().lookup_ngram, help="longest n-gram matched")
    parser.add_argument("--no-sessions", action="store_true", help="skip the five-tool-turn sessions")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    from importlib.metadata import version

    import mlx.core as mx

    names = args.models.split(",") if args.models else (["moe", "dense"] if args.scale else ["cpu-small", "cpu-mid"])
    config = LookupConfig(args.draft, args.ngram)
    for name in names:
        shape, bits, dtype, vocab = MODELS[name]
        path = fabricate(args.workdir / f"lookup-{name}", shape, bits, dtype, vocab)
        await measure(name, path, config, args.repeats, not args.no_sessions)
    where = f"mlx {version('mlx')} on {mx.default_device()}" + (" (CUDA)" if mx.cuda.is_available() else "")
    print(f"\nprompt-lookup decoding (k ≤ {args.draft}, n ≤ {args.ngram}; {where}; {os.cpu_count()} CPUs)\n")
    header = ("metric", "with lookup", "baseline (same run)", "ratio", "target")
    widths = [max(len(r[i]) for r in [header, *ROWS]) for i in range(5)]
    for line in [header, tuple("-" * w for w in widths), *ROWS]:
        print(" | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # as mlx_backend.py: skip interpreter teardown of mlx's per-thread streams
