"""Large prefill chunks through a MoE model's experts unquantized (`models/mlx/moe.py`).

On the CPU the route is never chosen by itself (`worthwhile` is CUDA's); here it is adopted by
hand, on float32 weights (mlx's CPU `gather_mm` takes float32 only), and must compute what
mlx-lm's quantized kernel computes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import pytest
from mlx.utils import tree_flatten
from mlx_lm.models.cache import make_prompt_cache
from mlx_lm.models.switch_layers import QuantizedSwitchLinear, SwitchGLU

from punie_acp.models.mlx import moe
from punie_acp.models.mlx.cache import CachePart, SessionCache
from punie_acp.models.mlx.loading import LoadProgress, load_model
from punie_acp.models.mlx.steps import PrefillTuning, prefill_chunks

EXPERTS, TOP = 8, 2


def ignore_progress(progress: LoadProgress) -> None:
    return None


def quantized_block() -> Any:
    mx.random.seed(0)
    block = SwitchGLU(64, 32, EXPERTS)
    nn.quantize(block, group_size=32, bits=4)  # type: ignore[attr-defined]
    return block


def routed(tokens: int) -> tuple[Any, Any]:
    x = mx.random.normal((1, tokens, 64))
    indices = mx.stack([mx.random.permutation(EXPERTS)[:TOP] for _ in range(tokens)])[None].astype(mx.uint32)
    return x, indices


class Spy:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = moe.unquantized

        def counting(*args: Any) -> Any:
            self.calls += 1
            return real(*args)

        monkeypatch.setattr(moe, "unquantized", counting)


def test_large_sorted_chunks_take_the_unquantized_route_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    block = quantized_block()
    x, indices = routed(40)  # 80 sorted rows
    expected = block(x, indices)
    assert moe.adopt(block) == 3  # gate, up and down projections
    spy = Spy(monkeypatch)
    monkeypatch.setattr(moe, "MIN_ROWS", 64)
    with moe.dense_experts():
        got = block(x, indices)
    assert spy.calls == 3
    assert mx.allclose(got, expected, atol=1e-4).item()


def test_small_chunks_decoding_and_code_outside_prefill_keep_mlx_lms_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    block = quantized_block()
    moe.adopt(block)
    spy = Spy(monkeypatch)
    monkeypatch.setattr(moe, "MIN_ROWS", 64)
    x, indices = routed(40)
    block(x, indices)  # not prefilling: bare mlx-lm code on the same model
    with moe.dense_experts():
        block(*routed(20))  # 40 rows: below MIN_ROWS
        block(*routed(1))  # one token, as when decoding (unsorted)
    assert spy.calls == 0


def test_adopt_leaves_other_modules_and_other_models_alone() -> None:
    first, second = quantized_block(), quantized_block()
    moe.adopt(first)
    assert type(second.gate_proj) is QuantizedSwitchLinear
    assert isinstance(first.gate_proj, QuantizedSwitchLinear)  # still mlx-lm's, with the route added
    assert moe.adopt(nn.Linear(4, 4)) == 0  # type: ignore[attr-defined]


def test_a_quantized_moe_model_prefills_the_same_kv_cache_through_either_route(
    model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = load_model(str(model_dirs["moe"]), None, ignore_progress)
    nn.quantize(loaded.model, group_size=32, bits=4)  # type: ignore[attr-defined]  # the fabricated model is float32: quantize it here
    tokens = [(7 * i) % 200 for i in range(300)]

    def prefilled() -> list[Any]:
        entry = SessionCache([CachePart(make_prompt_cache(loaded.model), lambda: make_prompt_cache(loaded.model))])
        for _ in prefill_chunks(loaded, entry, tokens, PrefillTuning(step=128, target_s=0), lambda n, main: None):
            pass
        return [layer.state for layer in entry.layers]

    expected = prefilled()
    assert moe.adopt(loaded.model) > 0
    spy = Spy(monkeypatch)
    monkeypatch.setattr(moe, "MIN_ROWS", 128)  # 128-token chunks × 2 experts a token
    got = prefilled()
    assert spy.calls > 0
    pairs = [(a, b) for (_, a), (_, b) in zip(tree_flatten(expected), tree_flatten(got), strict=True)
             if isinstance(a, mx.array) and isinstance(b, mx.array)]  # fmt: skip
    assert len(pairs) >= 4  # keys and values of each layer
    for a, b in pairs:
        assert a.shape == b.shape and mx.allclose(a, b, atol=1e-4).item()


def test_loading_adopts_the_experts_where_the_route_pays(
    model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    adopted: list[Any] = []

    def recording_adopt(model: Any) -> int:
        adopted.append(model)
        return 1

    monkeypatch.setattr(moe, "adopt", recording_adopt)
    monkeypatch.setattr(moe, "worthwhile", lambda: False)
    load_model(str(model_dirs["moe"]), None, ignore_progress)
    assert adopted == []  # the CPU: mlx-lm's kernels as they are
    monkeypatch.setattr(moe, "worthwhile", lambda: True)
    loaded = load_model(str(model_dirs["moe"]), None, ignore_progress)
    assert adopted == [loaded.model]
    load_model(str(model_dirs["moe"]), None, ignore_progress, unquantized_experts=False)  # the setting's off
    assert adopted == [loaded.model]
