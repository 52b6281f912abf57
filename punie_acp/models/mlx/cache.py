"""Per-session KV prompt caches, least recently used evicted first.

A session's cache holds the KV state of the tokens in `SessionCache.tokens` (up to each layer
group's offset). Next turn the whole conversation is rendered again; `reuse` keeps the longest
common *token* prefix (re-encoding the model's own reply does not always reproduce the tokens it
generated, and templates rewrite earlier turns, so nothing is assumed to be an append), trims the
rest with `trim_prompt_cache`, and the engine prefills only what follows. A model whose cache cannot
be trimmed (e.g. recurrent layers) keeps it only when the new prompt extends it exactly.

Only the model thread touches these objects.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from punie_acp.models.mlx.persist import SavedCaches


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def cache_offset(layers: list[Any]) -> int:
    """Tokens a layer group holds (all layers of one model advance together)."""
    if not layers:
        return 0
    first = layers[0]
    offset = getattr(first, "offset", None)
    return int(offset) if isinstance(offset, int) else int(first.size())


@dataclass
class CachePart:
    """The cache of one model (the main model, or the draft model for speculative decoding)."""

    layers: list[Any]
    make: Callable[[], list[Any]]

    @property
    def offset(self) -> int:
        return cache_offset(self.layers)

    def keep(self, n: int) -> int:
        """Cut this part back to its first `n` tokens (or fewer); returns what it now holds."""
        from mlx_lm.models.cache import can_trim_prompt_cache, trim_prompt_cache

        offset = self.offset
        if offset <= n:
            return offset
        if can_trim_prompt_cache(self.layers):
            trim_prompt_cache(self.layers, offset - n)
            return self.offset
        self.layers = self.make()
        return 0


@dataclass
class SessionCache:
    parts: list[CachePart]
    tokens: list[int] = field(default_factory=list)
    busy: bool = False
    forgotten: bool = False

    @property
    def layers(self) -> list[Any]:
        """All layers, main model first: the `prompt_cache` mlx-lm's generators expect."""
        return [layer for part in self.parts for layer in part.layers]

    def reuse(self, prompt: list[int]) -> int:
        """Trim to the longest prefix shared with `prompt`, leaving at least one token to feed.

        Returns how many prompt tokens the main model's cache still holds (a draft model's cache
        may hold a token fewer; it is caught up separately).
        """
        keep = min(common_prefix(self.tokens, prompt), len(prompt) - 1)
        kept = [part.keep(keep) for part in self.parts]
        self.tokens = list(prompt)
        return kept[0] if kept else 0


class PromptCacheStore:
    """Session id → `SessionCache`, bounded; a busy cache (mid-generation) is never evicted."""

    def __init__(self, capacity: int, factory: Callable[[], SessionCache], saved: SavedCaches | None = None) -> None:
        self.capacity = max(1, capacity)
        self._factory = factory
        self._entries: OrderedDict[str, SessionCache] = OrderedDict()
        self.evictions = 0
        self.saved = saved  # caches kept on disk across restarts (persist.py), or None

    def get(self, session_id: str) -> SessionCache:
        entry = self._entries.get(session_id)
        if entry is None:
            entry = self._factory()
            if self.saved is not None:
                self.saved.restore(session_id, entry)
            self._entries[session_id] = entry
        self._entries.move_to_end(session_id)
        self._evict()
        return entry

    def forget(self, session_id: str) -> None:
        """Drop a session's cache now, or when its running generation ends."""
        entry = self._entries.get(session_id)
        if entry is None:
            return
        if entry.busy:
            entry.forgotten = True
        else:
            del self._entries[session_id]

    def release(self, session_id: str) -> None:
        """A generation on this session ended."""
        entry = self._entries.get(session_id)
        if entry is not None:
            entry.busy = False
            if self.saved is not None:
                self.saved.changed(session_id, entry)
            if entry.forgotten:
                del self._entries[session_id]
            self._evict()

    def settle(self) -> None:
        """The model thread is idle: save the caches that changed (when saving is on)."""
        if self.saved is not None:
            self.saved.settle()

    def sessions(self) -> list[str]:
        """Cached session ids, least recently used first."""
        return list(self._entries)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._entries

    def _evict(self) -> None:
        for session_id in list(self._entries):
            if len(self._entries) <= self.capacity:
                return
            if not self._entries[session_id].busy:
                del self._entries[session_id]
                self.evictions += 1
