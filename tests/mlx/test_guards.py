"""The repetition guard that ends a degenerate decoding loop."""

from __future__ import annotations

from punie_acp.models.mlx.guards import RepetitionGuard


def test_repetition_guard_trips_on_repeated_tokens_and_blocks_but_not_on_varied_text() -> None:
    same = RepetitionGuard()
    assert [same.add(7) for _ in range(200)].index(True) == 95  # one token, 96 times
    block = list(range(100, 140))  # a 40-token block: needs 4 repeats (160 tokens)
    looping = RepetitionGuard()
    assert [looping.add(t) for t in block * 5].index(True) == 159
    varied = RepetitionGuard()
    assert not any(varied.add(t) for t in range(1000))
    near_repeats = RepetitionGuard()  # repeated lines that differ in one token each time
    assert not any(near_repeats.add(t) for i in range(50) for t in [1, 2, 3, 1000 + i, 4])
