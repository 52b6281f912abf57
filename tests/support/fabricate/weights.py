"""TEST AND BENCHMARK SUPPORT: weights for a deterministic Qwen3 whose greedy output is a script.

Construction (hidden size d, a 2-layer `qwen3`):

- Every "important" token (the prompt's last token — the trigger —, the `<tool_response>` marker and
  each script piece) gets its own embedding axis; all embeddings share a small component on axis 0
  and have unit norm. Axis 1 carries a "tool result seen" signal and is zero in every embedding.
- Each MLP's `down_proj` and layer 1's `o_proj` are zero, so the residual stream is the token's
  embedding plus whatever layer 0's attention adds.
- Layer 0, head 0 attends from every position to `<tool_response>` tokens (query from the shared
  axis, key from the marker's axis, both in RoPE's lowest-frequency pair so position does not
  matter) and writes the attention weight it puts on them onto axis 1.
- The untied `lm_head` row of each piece is a multiple of its predecessor's embedding, so greedy
  decoding follows the chain trigger → piece₁ → … → `<|im_end|>` (or loops back to piece₁). Where
  the `after_tool` script leaves a token that the first script also uses (the trigger, `<tool_call>`
  …), its row reads axis 1 as well, so that branch wins only once a tool result is in the context.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, cast

import numpy as np

SHARED = 0.2  # every embedding's component on axis 0
KEY_BIAS = 0.3  # key component from the shared axis (keeps the normalised marker key below 1)
QUERY_GAIN = 10.0  # q_norm weight: attention logit ≈ 54 on the marker, 0 elsewhere
ROW_SCALE = 10.0  # lm_head row multiple: the intended next token leads by ≥ 0.18·√d·scale
AFTER_TOOL_SELF = 0.5  # after_tool's first row: this much of the trigger's embedding …
AFTER_TOOL_SIGNAL = 0.8  # … plus this much of the tool-result signal


@dataclass(frozen=True)
class Script:
    """What a scripted model says: each piece becomes one token, then `<|im_end|>` (or a loop)."""

    pieces: tuple[str, ...]
    loop: bool = False  # True: after the last piece start again at the first, never stopping

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def _parameter_shapes(config: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.utils import _get_classes

    model_class, args_class = _get_classes(config)
    model = model_class(args_class.from_dict(config))
    flat = cast(list[tuple[str, mx.array]], tree_flatten(model.parameters()))
    return [(name, tuple(int(n) for n in value.shape)) for name, value in flat]


def _chains(encode: Callable[[str], list[int]], scripts: Sequence[Script]) -> list[list[int]]:
    chains: list[list[int]] = []
    for script in scripts:
        chain: list[int] = []
        for piece in script.pieces:
            ids = encode(piece)
            if len(ids) != 1:
                raise ValueError(f"script piece {piece!r} is {len(ids)} tokens, not one")
            chain.append(ids[0])
        if not chain:
            raise ValueError("a script needs at least one piece")
        chains.append(chain)
    return chains


def scripted_weights(
    config: dict[str, Any],
    encode: Callable[[str], list[int]],
    scripts: Sequence[Script],
    trigger: int,
    marker: int,
    eos: int,
) -> dict[str, np.ndarray]:
    d, vocab, hd = int(config["hidden_size"]), int(config["vocab_size"]), int(config["head_dim"])
    chains = _chains(encode, scripts)
    for chain in chains:
        if len(set(chain)) != len(chain) or {trigger, marker} & set(chain):
            raise ValueError(
                "a script's pieces must differ from each other, the prompt's last token and <tool_response>"
            )
    important = list(dict.fromkeys([trigger, marker] + [t for chain in chains for t in chain]))
    free = d - 2 - len(important)
    if free < 8:
        raise ValueError(f"{len(important)} script tokens need hidden_size ≥ {len(important) + 10}")
    axis = {tok: 2 + k for k, tok in enumerate(important)}
    rest = math.sqrt(1 - SHARED**2)

    weights = {name: np.zeros(shape, np.float32) for name, shape in _parameter_shapes(config)}
    for name in weights:
        if name.endswith("norm.weight"):
            weights[name][:] = 1.0

    rng = np.random.default_rng(0)
    emb = np.zeros((vocab, d), np.float32)
    noise = rng.standard_normal((vocab, free)).astype(np.float32)
    emb[:, d - free :] = noise / np.linalg.norm(noise, axis=1, keepdims=True) * rest
    for tok, k in axis.items():
        emb[tok, :] = 0.0
        emb[tok, k] = rest
    emb[:, 0] = SHARED
    weights["model.embed_tokens.weight"] = emb

    q_axis, bias_axis = hd // 2 - 1, hd // 2 - 2  # RoPE's lowest-frequency pairs
    attn = "model.layers.0.self_attn."
    weights[attn + "q_proj.weight"][q_axis, 0] = 1.0
    weights[attn + "q_norm.weight"][:] = 0.0
    weights[attn + "q_norm.weight"][q_axis] = QUERY_GAIN
    weights[attn + "k_proj.weight"][q_axis, axis[marker]] = 1.0
    weights[attn + "k_proj.weight"][bias_axis, 0] = KEY_BIAS / SHARED
    weights[attn + "v_proj.weight"][0, axis[marker]] = 1.0
    weights[attn + "o_proj.weight"][1, 0] = 1.0 / (math.sqrt(d) * rest)

    head = np.zeros((vocab, d), np.float32)
    signal = np.zeros(d, np.float32)
    signal[1] = 1.0
    in_first = {trigger, *chains[0]}
    for index, (script, chain) in enumerate(zip(scripts, chains, strict=True)):
        links = [(trigger, chain[0]), *pairwise(chain), (chain[-1], chain[0] if script.loop else eos)]
        for previous, following in links:
            if index > 0 and previous in in_first:  # a branch point: taken once a tool result is seen
                head[following] += ROW_SCALE * (AFTER_TOOL_SELF * emb[previous] + AFTER_TOOL_SIGNAL * signal)
            else:
                head[following] += ROW_SCALE * emb[previous]
    weights["lm_head.weight"] = head
    return weights
