"""TEST AND BENCHMARK SUPPORT: build loadable Qwen3 model directories on disk.

No model hub is needed: a byte-level BPE tokenizer is trained in a second (Qwen's pre-tokenizer
regex and NFC, so transformers' `Qwen2Tokenizer` gives the same ids), Qwen's added tokens and a
Qwen3 chat template go into `tokenizer_config.json`, and the weights are saved with the parameter
names of `mlx_lm.models.qwen3` / `qwen3_moe`. The directories load through exactly the same code
as a user's model (`mlx_lm.load`, `MlxBackend`).

Two kinds of weights:
- `write_random_model`: random float32 weights of any shape (benchmarks, cancellation tests).
- `write_scripted_model`: a deterministic model whose greedy output is a chosen script; see
  `scripted_weights` for how it is built.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from tests.support.fabricate.templates import TEMPLATES
from tests.support.fabricate.weights import Script, scripted_weights

__all__ = ["MID", "SCRIPTED", "TINY", "TINY_MOE", "ModelShape", "Script", "write_random_model", "write_scripted_model"]

# (content, special) in Qwen's order; `<tool_call>`, `<think>` … are plain added tokens there too.
QWEN_ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
)

PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


@dataclass(frozen=True)
class ModelShape:
    hidden_size: int = 64
    num_hidden_layers: int = 2
    intermediate_size: int = 128
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 16
    bpe_vocab: int = 1024
    num_experts: int = 0  # 0: dense `qwen3`; otherwise `qwen3_moe`
    num_experts_per_tok: int = 2
    moe_intermediate_size: int = 64


TINY = ModelShape()
TINY_MOE = ModelShape(num_experts=4)
SCRIPTED = ModelShape(
    hidden_size=128,
    num_hidden_layers=2,
    intermediate_size=64,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=32,
)
MID = ModelShape(
    hidden_size=1024,
    num_hidden_layers=8,
    intermediate_size=3072,
    num_attention_heads=16,
    num_key_value_heads=8,
    head_dim=64,
    bpe_vocab=2048,
)


def _corpus() -> list[str]:
    words = " ".join(
        [
            "the a file read write path project test function class return value error result user",
            "model token stream session cancel tool call agent editor python module import def self",
            "list dict string int none true false open line lines search replace patch diff commit",
            "hello world notes data config settings server client request response json text code",
        ]
    ).split(" ")
    rng = np.random.default_rng(1234)
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "qu", "ph", "st", "tr", "ch", "ing", "er"]
    words += ["".join(syllables[int(j)] for j in rng.integers(0, len(syllables), 3)) for _ in range(400)]
    lines: list[str] = []
    for i in range(3000):
        n = int(rng.integers(3, 12))
        sentence = " ".join(words[int(j)] for j in rng.integers(0, len(words), n))
        lines.append(sentence.capitalize() + ("." if i % 3 else ":"))
        if i % 5 == 0:
            name = words[int(rng.integers(0, len(words)))]
            lines.append(f"def {name}_{i % 97}(path: str, n: int = {i % 10}) -> dict[str, int]:")
            lines.append(f'    return {{"{name}": n + {i % 7}, "ok": True}}  # {name}')
        if i % 7 == 0:
            lines.append(json.dumps({"name": words[i % len(words)], "arguments": {"path": f"src/{i}.py"}}))
    return lines


def build_tokenizer(path: Path, bpe_vocab: int = 1024) -> None:
    """Write `tokenizer.json`: byte-level BPE trained with Qwen's pre-tokenizer, plus Qwen's added tokens."""
    (path / "tokenizer.json").write_text(_trained_tokenizer(bpe_vocab), encoding="utf-8")


@functools.cache
def _trained_tokenizer(bpe_vocab: int) -> str:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=bpe_vocab, min_frequency=2, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    for content, special in QWEN_ADDED_TOKENS:
        token = AddedToken(content, special=special, normalized=False)
        if special:
            tok.add_special_tokens([token])
        else:
            tok.add_tokens([token])
    return str(tok.to_str())


def _add_pieces(path: Path, pieces: Sequence[str]) -> None:
    """Add script pieces that are not single tokens yet as plain added tokens."""
    from tokenizers import AddedToken, Tokenizer

    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    new = [p for p in dict.fromkeys(pieces) if len(tok.encode(p, add_special_tokens=False).ids) != 1]
    if new:
        tok.add_tokens([AddedToken(p, special=False, normalized=False) for p in new])
        tok.save(str(path / "tokenizer.json"))


def _write_tokenizer_config(path: Path, template: str) -> None:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    decoder = {
        str(index): {
            "content": token.content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": token.special,
        }
        for index, token in sorted(tok.get_added_tokens_decoder().items())
    }
    config = {
        "tokenizer_class": "Qwen2Tokenizer",
        "added_tokens_decoder": decoder,
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "errors": "replace",
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": False,
        "model_max_length": 40960,
        "chat_template": TEMPLATES[template],
    }
    (path / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def _model_config(shape: ModelShape, vocab_size: int, eos_id: int, tie: bool) -> dict[str, Any]:
    config: dict[str, Any] = {
        "architectures": ["Qwen3ForCausalLM"],
        "model_type": "qwen3",
        "hidden_size": shape.hidden_size,
        "num_hidden_layers": shape.num_hidden_layers,
        "intermediate_size": shape.intermediate_size,
        "num_attention_heads": shape.num_attention_heads,
        "num_key_value_heads": shape.num_key_value_heads,
        "head_dim": shape.head_dim,
        "rms_norm_eps": 1e-6,
        "vocab_size": vocab_size,
        "max_position_embeddings": 40960,
        "rope_theta": 1000000.0,
        "tie_word_embeddings": tie,
        "eos_token_id": eos_id,
        "torch_dtype": "float32",
    }
    if shape.num_experts:
        config.update(
            architectures=["Qwen3MoeForCausalLM"],
            model_type="qwen3_moe",
            num_experts=shape.num_experts,
            num_experts_per_tok=shape.num_experts_per_tok,
            decoder_sparse_step=1,
            mlp_only_layers=[],
            moe_intermediate_size=shape.moe_intermediate_size,
            norm_topk_prob=True,
        )
    return config


def _prepare(path: Path, template: str, pieces: Sequence[str], bpe_vocab: int = 1024) -> tuple[int, int]:
    """Tokenizer files; returns (token count, `<|im_end|>` id)."""
    from tokenizers import Tokenizer

    path.mkdir(parents=True, exist_ok=True)
    build_tokenizer(path, bpe_vocab)
    _add_pieces(path, pieces)
    _write_tokenizer_config(path, template)
    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    eos = tok.token_to_id("<|im_end|>")
    assert eos is not None
    return tok.get_vocab_size(with_added_tokens=True), int(eos)


def _padded(n: int) -> int:
    return (n + 63) // 64 * 64


def _save(path: Path, config: dict[str, Any], weights: dict[str, np.ndarray]) -> None:
    import mlx.core as mx

    (path / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    arrays = {name: mx.array(value.astype(np.float32)) for name, value in weights.items()}
    mx.save_safetensors(str(path / "model.safetensors"), arrays, metadata={"format": "mlx"})


def _random_weights(config: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.utils import _get_classes

    model_class, args_class = _get_classes(config)
    mx.random.seed(seed)
    model = model_class(args_class.from_dict(config))
    flat = cast(list[tuple[str, Any]], tree_flatten(model.parameters()))
    out: dict[str, np.ndarray] = {}
    for name, value in flat:
        array = np.array(value, dtype=np.float32)
        if name.endswith("embed_tokens.weight"):
            array = array * 0.05  # keep random logits in a sane range
        out[name] = array
    return out


def write_random_model(path: Path, shape: ModelShape = TINY, template: str = "qwen3", seed: int = 0) -> Path:
    """A loadable `qwen3` (or `qwen3_moe` when `shape.num_experts`) with random float32 weights."""
    n_tokens, eos_id = _prepare(path, template, (), shape.bpe_vocab)
    config = _model_config(shape, _padded(n_tokens), eos_id, tie=True)
    _save(path, config, _random_weights(config, seed))
    return path


def write_scripted_model(
    path: Path,
    first: Script,
    after_tool: Script | None = None,
    template: str = "qwen3",
    shape: ModelShape = SCRIPTED,
) -> Path:
    """A deterministic `qwen3` whose greedy reply is `first`, or `after_tool` once a tool result is in context.

    Any `shape` works (layers past the first compute at full cost but add nothing), so a scripted
    model can be as slow as a real one of that size.
    """
    from transformers import AutoTokenizer

    scripts = [first] + ([after_tool] if after_tool is not None else [])
    n_tokens, eos_id = _prepare(path, template, [p for s in scripts for p in s.pieces])
    config = _model_config(shape, _padded(n_tokens), eos_id, tie=False)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    trigger = int(tokenizer.encode(rendered, add_special_tokens=False)[-1])
    weights = scripted_weights(
        config,
        encode=lambda piece: [int(t) for t in tokenizer.encode(piece, add_special_tokens=False)],
        scripts=scripts,
        trigger=trigger,
        marker=int(cast(int, tokenizer.convert_tokens_to_ids("<tool_response>"))),
        eos=eos_id,
    )
    _save(path, config, weights)
    return path
