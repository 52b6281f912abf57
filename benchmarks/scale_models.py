"""GPU-shaped models for `mlx_backend.py --scale` (`mlx_scale.py`), fabricated in mlx.

Two shapes, as on the accelerator machine (`../shared/gpu-benchmarking.md`): a Qwen3-30B-A3B-like
MoE in 4 bits (gather_qmm; the router stays 8-bit, mlx-lm's rule) and a Qwen3-0.6B-like dense
model in bf16, both with `vocab_size` padded to Qwen's 151,936 so lm_head costs what it costs.

Weights are random, made in mlx one layer at a time (30B float32 through numpy would need
~120 GB). `o_proj`/`down_proj` are scaled by 1e-3 so the residual stream stays the token
embedding, and every embedding carries a constant on axis 0 that the lm_head rows of padded
and added (special) ids answer with a large negative weight: sampling never emits them, so a
reply neither ends by itself nor decodes unknown ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from benchmarks import tool_turns
from tests.support.fabricate import ModelShape, _model_config, _prepare

QWEN_VOCAB = 151_936
MOE = ModelShape(hidden_size=2048, num_hidden_layers=48, intermediate_size=6144, num_attention_heads=32,
                 num_key_value_heads=4, head_dim=128, bpe_vocab=2048, num_experts=128, num_experts_per_tok=8,
                 moe_intermediate_size=768)  # fmt: skip
DENSE = ModelShape(hidden_size=1024, num_hidden_layers=28, intermediate_size=3072, num_attention_heads=16,
                   num_key_value_heads=8, head_dim=128, bpe_vocab=2048)  # fmt: skip


def fabricate(path: Path, shape: ModelShape, bits: int | None, script: Sequence[str] = ()) -> Path:
    """Write a loadable model directory (skipped when one is there); with `script`, a model that
    answers every request with it (`tool_turns.script_rows`)."""
    if (path / "config.json").exists():
        return path
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.utils import _get_classes
    from tokenizers import Tokenizer

    n_tokens, eos = _prepare(path, "qwen3", script, shape.bpe_vocab)
    plain = Tokenizer.from_file(str(path / "tokenizer.json")).get_vocab_size(with_added_tokens=False)
    assert n_tokens <= QWEN_VOCAB
    config = _model_config(shape, QWEN_VOCAB, eos, tie=False)
    config["torch_dtype"] = "bfloat16"
    model_class, args_class = _get_classes(config)
    mx.random.seed(0)
    model = model_class(args_class.from_dict(config))  # lazy: nothing is materialised yet

    quantization = random_layers(model, shape, bits, mx.bfloat16)
    hidden = shape.hidden_size
    marker = mx.zeros((QWEN_VOCAB, hidden)).at[:, 0].add(1.0)  # the constant on axis 0
    embed = mx.random.normal((QWEN_VOCAB, hidden)) * 0.02
    model.model.embed_tokens.weight = (embed * (1 - marker) + marker).astype(mx.bfloat16)
    banned = (mx.arange(QWEN_VOCAB) >= plain)[:, None] * marker  # padded and added ids
    head = mx.random.normal((QWEN_VOCAB, hidden)) * 0.02
    head = head * (1 - marker) - banned
    if script:
        head = tool_turns.script_rows(path, head, model.model.embed_tokens.weight.astype(mx.float32), marker, script)
    model.lm_head.weight = head.astype(mx.bfloat16)
    model.model.norm.set_dtype(mx.bfloat16)
    save(path, model, config, bits, quantization)
    size = sum(int(v.nbytes) for _, v in cast(list[tuple[str, Any]], tree_flatten(model.parameters())))
    print(f"fabricated {path.name}: {size / 1e9:.1f} GB", flush=True)
    return path


def random_layers(model: Any, shape: ModelShape, bits: int | None, dtype: Any) -> dict[str, Any]:
    """Materialise a lazily built model's layers one at a time: `o_proj`/`down_proj` scaled by 1e-3
    (the residual stream stays the token embedding), cast to `dtype`, quantized to `bits` with a
    MoE router at 8 bits (mlx-lm's rule). Returns the config's `quantization` entry."""
    import mlx.core as mx
    import mlx.nn as nn

    def gate_8_bit(name: str, module: Any) -> bool | dict[str, int]:
        if not hasattr(module, "to_quantized"):
            return False
        return {"group_size": 64, "bits": 8} if name.endswith("mlp.gate") else True

    quantization: dict[str, Any] = {"group_size": 64, "bits": bits, "mode": "affine"} if bits else {}
    for index, layer in enumerate(model.layers):
        layer.self_attn.o_proj.weight = layer.self_attn.o_proj.weight * 1e-3
        down = layer.mlp.switch_mlp.down_proj if shape.num_experts else layer.mlp.down_proj
        down.weight = down.weight * 1e-3
        layer.set_dtype(dtype)
        if bits:
            nn.quantize(layer, group_size=64, bits=bits, class_predicate=gate_8_bit)  # type: ignore[attr-defined]
            if shape.num_experts:
                quantization[f"model.layers.{index}.mlp.gate"] = {"group_size": 64, "bits": 8}
        mx.eval(layer.parameters())
    return quantization


def save(path: Path, model: Any, config: dict[str, Any], bits: int | None, quantization: dict[str, Any]) -> None:
    """Quantize the embedding and lm_head to `bits` (the layers are, by `random_layers`), then write
    the weights and config.json."""
    import mlx.core as mx
    from mlx_lm.utils import save_config, save_model

    if bits:
        model.model.embed_tokens = model.model.embed_tokens.to_quantized(group_size=64, bits=bits)
        model.lm_head = model.lm_head.to_quantized(group_size=64, bits=bits)
        config["quantization"] = config["quantization_config"] = quantization
    mx.eval(model.parameters())
    save_model(path, model)
    save_config(config, path / "config.json")
