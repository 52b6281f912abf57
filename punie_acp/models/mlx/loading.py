"""Find a model (local directory, Hugging Face cache, or a download) and load it with mlx-lm.

Runs on the model thread. Progress is measured, never guessed: bytes of weights materialised
(`mlx_lm.load(..., lazy=True)` then evaluating the parameters in batches), bytes downloaded (the
repo's cache folder against the sizes a dry run reports); stages without a measure report only
their name and the elapsed time.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from punie_acp.models.base import ModelNotAvailable

log = logging.getLogger(__name__)

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_ALLOW_PATTERNS = ["*.json", "model*.safetensors", "*.py", "tokenizer.model", "*.tiktoken", "*.txt", "*.jinja"]
_EVAL_BATCH_BYTES = 64 << 20
# Tokens after which a Qwen-style reply is over, whatever the config's eos_token_id says.
STOP_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|im_start|>")


@dataclass(frozen=True)
class LoadProgress:
    stage: str
    done: int = 0
    total: int = 0  # 0 when the stage has no measure
    started: float = field(default_factory=time.monotonic)
    unit: str = "bytes"  # of done/total; any other unit is shown as a percentage alone

    def describe(self, name: str) -> str:
        if self.total > 0:
            percent = min(100, 100 * self.done // self.total)
            if self.unit != "bytes":
                return f"Loading {name}: {self.stage} {percent}%"
            return f"Loading {name}: {self.stage} {percent}% ({_size(self.done)} of {_size(self.total)})"
        return f"Loading {name}: {self.stage} ({time.monotonic() - self.started:.0f} s)"


Reporter = Callable[[LoadProgress], None]


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    path: Path
    draft: Any | None = None


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def resolve(spec: str, report: Reporter) -> Path:
    """A local model directory for `spec` (a path or a Hugging Face repo id)."""
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelNotAvailable(f"{path} is not an mlx model directory: it has no config.json.")
        return path
    if spec.startswith((".", "/", "~")) or not _REPO_ID.match(spec):
        raise ModelNotAvailable(
            f"Model directory {spec} does not exist. Pass --model a local mlx model directory "
            "or a Hugging Face repo id such as mlx-community/Qwen3-Coder-30B-A3B-Instruct-4bit."
        )
    return _from_hub(spec, report)


def _from_hub(repo: str, report: Reporter) -> Path:
    try:
        from huggingface_hub import constants, snapshot_download
    except ImportError as exc:
        raise ModelNotAvailable(f"Model {repo} is not a local directory and huggingface_hub is not installed.") from exc
    how = f"Download it with `hf download {repo}` on a machine with network access, or pass --model /path/to/model-dir."
    report(LoadProgress("looking in the Hugging Face cache"))
    try:
        return Path(snapshot_download(repo, local_files_only=True, allow_patterns=_ALLOW_PATTERNS))
    except Exception as exc:  # LocalEntryNotFoundError and friends: not cached yet
        log.info("%s is not in the Hugging Face cache: %s", repo, exc)
    if constants.is_offline_mode():
        raise ModelNotAvailable(f"Model {repo} is not downloaded and Hugging Face is in offline mode. {how}")
    try:
        plan: list[Any] = snapshot_download(repo, allow_patterns=_ALLOW_PATTERNS, dry_run=True, etag_timeout=10)
        total = sum(int(f.file_size or 0) for f in plan if f.will_download)
        folder = Path(constants.HF_HUB_CACHE) / ("models--" + repo.replace("/", "--"))
        with _watch_folder(folder, total, report):
            return Path(snapshot_download(repo, allow_patterns=_ALLOW_PATTERNS, etag_timeout=10))
    except Exception as exc:
        raise ModelNotAvailable(
            f"Model {repo} is not on this machine and could not be downloaded ({type(exc).__name__}: {exc}). {how}"
        ) from exc


class _watch_folder:
    """Report the bytes a download has written so far, every half second."""

    def __init__(self, folder: Path, total: int, report: Reporter) -> None:
        self._folder, self._total, self._report = folder, total, report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="punie-download-progress", daemon=True)

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(0.5):
            done = sum(p.stat().st_size for p in self._folder.rglob("*") if p.is_file() and not p.is_symlink())
            self._report(LoadProgress("downloading", min(done, self._total), self._total, started))


def _materialise(model: Any, what: str, report: Reporter) -> None:
    import mlx.core as mx
    from mlx.utils import tree_flatten

    arrays = [value for _, value in cast(list[tuple[str, Any]], tree_flatten(model.parameters()))]
    total = sum(int(a.nbytes) for a in arrays)
    started, done, batch, batch_bytes = time.monotonic(), 0, [], 0
    report(LoadProgress(what, 0, total, started))
    for array in arrays:
        batch.append(array)
        batch_bytes += int(array.nbytes)
        if batch_bytes >= _EVAL_BATCH_BYTES or array is arrays[-1]:
            mx.eval(batch)
            done += batch_bytes
            batch, batch_bytes = [], 0
            report(LoadProgress(what, done, total, started))


def _load_one(spec: str, what: str, report: Reporter) -> tuple[Any, Any, Path]:
    path = resolve(spec, report)
    report(LoadProgress(f"reading {what} config and tokenizer"))
    from mlx_lm import load

    try:
        model, tokenizer = cast(tuple[Any, Any], load(str(path), lazy=True))
    except (FileNotFoundError, ValueError, KeyError, ImportError) as exc:
        raise ModelNotAvailable(f"Cannot load {what} from {path}: {exc}") from exc
    _materialise(model, f"reading {what} weights", report)
    return model, tokenizer, path


def _set_wired_limit(model: Any) -> None:
    """Keep the weights wired in (unified) GPU memory, once, as mlx-lm does around each generation."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.utils import maybe_set_recommended_wired_limit

    if maybe_set_recommended_wired_limit() is None:
        return  # no recommended working set (CPU)
    size = sum(int(a.nbytes) for _, a in cast(list[tuple[str, Any]], tree_flatten(model.parameters())))
    limit = int(mx.device_info()["max_recommended_working_set_size"])
    if size > 0.9 * limit:
        log.warning("the model needs %s, close to the %s the GPU should use: expect it to be slow", size, limit)


def load_model(spec: str, draft_spec: str | None, report: Reporter, *, unquantized_experts: bool = True) -> LoadedModel:
    """The model (and draft model); `unquantized_experts`: the CUDA prefill route of `moe.py`."""
    report(LoadProgress("starting mlx"))
    import mlx_lm  # noqa: F401  (the ~1.6 s import, reported as its own stage)

    model, tokenizer, path = _load_one(spec, "model", report)
    _set_wired_limit(model)
    if unquantized_experts:
        _prefill_route(model)
    vocab = tokenizer.get_vocab()
    for token in STOP_TOKENS:
        if token in vocab:
            tokenizer.add_eos_token(token)
    loaded = LoadedModel(model, tokenizer, path)
    if draft_spec:
        loaded.draft, _, _ = _load_one(draft_spec, "draft model", report)
        if unquantized_experts:
            _prefill_route(loaded.draft)
    return loaded


def _prefill_route(model: Any) -> None:
    """On CUDA, large prefill chunks run a MoE model's experts unquantized (`moe.py`)."""
    from punie_acp.models.mlx import moe

    if moe.worthwhile() and (adopted := moe.adopt(model)):
        log.info("prefill runs %d quantized expert projections unquantized (CUDA)", adopted)
