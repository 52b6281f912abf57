"""The prompt-lookup drafter on its own: which earlier match it copies, how far, and when it pauses."""

from __future__ import annotations

import pytest

from punie_acp.models.mlx.lookup import LONGEST_PAUSE, LookupConfig, PromptLookup


def drafter(history: list[int], max_draft: int = 8, ngram: int = 3) -> PromptLookup:
    return PromptLookup(history, LookupConfig(max_draft, ngram), capacity=len(history) + 4)


def test_copies_what_followed_the_latest_longest_match() -> None:
    #           0  1  2  3  4  5  6  7  8  9 10 11 12 13
    history = [1, 2, 3, 10, 11, 7, 2, 3, 20, 21, 9, 1, 2, 3]
    # "1 2 3" (3-gram) occurred at 0..2 → 10 11 …; "2 3" alone also at 6..7 (more recent) → 20 21.
    assert drafter(history).draft(2) == [10, 11]
    assert drafter(history, ngram=2).draft(2) == [20, 21]  # the most recent 2-gram wins


def test_nothing_to_copy_gives_no_draft() -> None:
    assert drafter([1, 2, 3, 4, 5, 6]).draft(8) == []
    assert drafter([5, 1, 6, 1]).draft(8) == []  # one matching token is not a match (n ≥ 2)
    assert drafter([5, 1, 6, 1], ngram=1).draft(8) == [6, 1]  # unless n = 1 is asked for
    assert drafter([7]).draft(8) == []


def test_a_draft_stops_at_the_end_of_the_history_and_at_the_limit() -> None:
    lookup = drafter([4, 5, 6, 4, 5], max_draft=8)
    assert lookup.draft(8) == [6, 4, 5]  # a repeat predicts itself, up to what is known
    assert lookup.draft(2) == [6, 4]
    assert lookup.draft(0) == []


def test_appended_tokens_are_searched_too() -> None:
    lookup = drafter([9, 8, 1, 2, 3, 4])
    assert lookup.draft(4) == []
    for token in (7, 1, 2):
        lookup.append(token)
    assert lookup.draft(3) == [3, 4, 7]


def test_length_adapts_to_acceptance() -> None:
    lookup = drafter([1, 2, *range(10, 30), 1, 2], max_draft=8)
    assert len(lookup.draft(100)) == 8
    lookup.record(8, 3)
    assert len(lookup.draft(100)) == 4  # accepted + 1
    lookup.record(4, 4)
    assert len(lookup.draft(100)) == 8  # doubled, capped at max_draft


@pytest.mark.parametrize("misses", [1, 2, 3, 7])
def test_rejected_drafts_pause_drafting_longer_each_time(misses: int) -> None:
    lookup = drafter([1, 2, 3, 1, 2])
    for _ in range(misses):
        lookup.record(3, 0)
    pause = min(LONGEST_PAUSE, 2 ** (misses - 1))
    assert lookup.paused and lookup.draft(8) == []
    for _ in range(pause - 1):
        lookup.append(99)
        assert lookup.paused
    lookup.append(99)
    assert not lookup.paused
    lookup.record(1, 1)  # an accepted draft resets the back-off
    lookup.record(1, 0)
    for _ in range(1):
        lookup.append(99)
    assert not lookup.paused


def test_config_is_checked() -> None:
    with pytest.raises(ValueError):
        LookupConfig(0, 3)
    with pytest.raises(ValueError):
        LookupConfig(8, 0)
