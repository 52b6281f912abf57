"""KV caches that survive a restart: a session's prompt cache saved beside the session store.

After a generation the session's cache is marked changed; when the model thread has nothing else
to do it is written (`mlx_lm`'s `save_prompt_cache`) to `kv-cache/<session>.<model>.safetensors`
next to the store, with the tokens it covers, their hash and the model's identity in the file's
metadata. When a session that has no cache in memory asks for one (the first prompt after a
restart and `session/load`), the saved one is read back if it was made by this very model and its
tokens check out; the engine then prefills only what the cache does not cover (`cache.py`'s
`reuse` keeps the common token prefix as for any cache). The directory is bounded in bytes: the
least recently used files go first.

Only the main model's cache is saved (a draft model is small and re-prefills). Runs on the model
thread only; nothing here touches the event loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from punie_acp.config import Settings
from punie_acp.models.mlx.cache import cache_offset
from punie_acp.store.layout import cache_directory

if TYPE_CHECKING:
    from punie_acp.models.mlx.cache import SessionCache
    from punie_acp.models.mlx.loading import LoadedModel

log = logging.getLogger(__name__)

FORMAT = "1"
SUFFIX = ".safetensors"
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FINGERPRINT_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json")


def saved_caches_for(settings: Settings) -> SavedCaches | None:
    """Where this server keeps KV caches, or None when it keeps none (no store, or a bound of 0)."""
    directory = cache_directory(settings.session_store)
    if directory is None or settings.prompt_cache_bytes <= 0:
        return None
    return SavedCaches(directory, settings.prompt_cache_bytes)


def model_identity(path: Path) -> str:
    """A hash of what makes a cache valid: the model's files (config, tokenizer, weights' names,
    sizes and modification times). Another model, or the same name with new weights, never matches."""
    digest = hashlib.sha256(str(path.resolve()).encode())
    for name in _FINGERPRINT_FILES:
        with contextlib.suppress(OSError):
            digest.update(name.encode() + b"\0" + (path / name).read_bytes())
    for weights in sorted(path.glob("*.safetensors")):
        st = weights.stat()
        digest.update(f"{weights.name}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return digest.hexdigest()


def tokens_text(tokens: list[int]) -> str:
    return ",".join(map(str, tokens))


def prefix_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class SavedCaches:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.model = ""
        self._changed: dict[str, SessionCache] = {}
        self._saved: dict[str, str] = {}  # session id → prefix hash last written
        self.restored_tokens = 0  # tokens read back from disk (tests, benchmarks)

    def bind(self, loaded: LoadedModel) -> None:
        """Called once the model is loaded: caches are kept per model."""
        self.model = model_identity(loaded.path)

    def path_for(self, session_id: str) -> Path | None:
        if not self.model or not _SAFE_ID.fullmatch(session_id):
            return None  # an id that cannot be a file name safely is simply not saved
        return self.directory / f"{session_id}.{self.model[:16]}{SUFFIX}"

    # -- hooks from PromptCacheStore ---------------------------------------------------------

    def restore(self, session_id: str, entry: SessionCache) -> None:
        """Fill a new, empty session cache from its saved file, if there is a usable one."""
        path = self.path_for(session_id)
        if path is None or not path.is_file():
            return
        try:
            layers, tokens = self._read(path, entry)
        except Exception as exc:  # a damaged or stale file only costs a prefill
            log.warning("saved KV cache %s not used: %s", path, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return
        entry.parts[0].layers = layers
        entry.tokens = tokens
        self._saved[session_id] = prefix_hash(tokens_text(tokens))
        self.restored_tokens += len(tokens)
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: evicted last
        log.info("session %s: %d tokens of KV cache read back from %s", session_id, len(tokens), path)

    def changed(self, session_id: str, entry: SessionCache) -> None:
        self._changed[session_id] = entry

    def settle(self) -> None:
        """Save what changed (the model thread is idle), then keep the directory within its bound."""
        if not self._changed:
            return
        changed, self._changed = self._changed, {}
        for session_id, entry in changed.items():
            if entry.busy:  # generating again: saved at the next idle moment
                self._changed[session_id] = entry
                continue
            try:
                self._write(session_id, entry)
            except Exception:
                log.exception("session %s: the KV cache could not be saved", session_id)
        self._bound()

    # -- files ----------------------------------------------------------------------------

    def _read(self, path: Path, entry: SessionCache) -> tuple[list[Any], list[int]]:
        from mlx_lm.models.cache import load_prompt_cache

        layers, meta = load_prompt_cache(str(path), return_metadata=True)  # type: ignore[no-untyped-call]
        if meta.get("format") != FORMAT or meta.get("model") != self.model:
            raise ValueError("made by another model or format")
        text = meta.get("tokens", "")
        if prefix_hash(text) != meta.get("prefix"):
            raise ValueError("its token list does not match its hash")
        tokens = [int(t) for t in text.split(",")] if text else []
        fresh = entry.parts[0].layers
        if [type(x) for x in layers] != [type(x) for x in fresh]:
            raise ValueError("its layers do not fit this model")
        if cache_offset(list(layers)) != len(tokens):
            raise ValueError("it holds a different number of tokens than it lists")
        return list(layers), tokens

    def _write(self, session_id: str, entry: SessionCache) -> None:
        path = self.path_for(session_id)
        if path is None:
            return
        from mlx_lm.models.cache import save_prompt_cache

        covered = entry.tokens[: entry.parts[0].offset]
        text = tokens_text(covered)
        digest = prefix_hash(text)
        if not covered or self._saved.get(session_id) == digest:
            return
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.stem}.{os.getpid()}.partial{SUFFIX}")
        metadata = {"format": FORMAT, "model": self.model, "prefix": digest, "tokens": text}
        try:
            save_prompt_cache(str(temporary), entry.parts[0].layers, metadata)
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)  # a reader sees the old file or the new one, never half of one
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        self._saved[session_id] = digest
        log.info("session %s: KV cache of %d tokens saved to %s", session_id, len(covered), path)

    def _bound(self) -> None:
        """Delete the least recently used files until the directory fits `max_bytes`."""
        try:
            files = [(p.stat().st_mtime_ns, p.stat().st_size, p) for p in self.directory.glob(f"*{SUFFIX}")]
        except OSError:
            return
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files, key=lambda f: f[0]):
            if total <= self.max_bytes:
                return
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
                log.info("saved KV cache %s removed to stay within %d bytes", path, self.max_bytes)
