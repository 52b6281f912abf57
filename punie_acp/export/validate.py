"""Check a written export the way `mlx_lm.lora` will read it: through mlx-lm's own dataset loader
(`mlx_lm.tuner.datasets.load_dataset`, which picks `ChatDataset` for `messages` lines), then every
example rendered and tokenized with the model's tokenizer and chat template, as training does.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import SimpleNamespace


class InvalidExport(Exception):
    """The file would not load for training (one line for the user)."""


def validate(path: Path, tokenizer_dir: Path) -> int:
    """How many examples load and tokenize; raises `InvalidExport` naming the first that does not."""
    from mlx_lm.tuner.datasets import load_dataset
    from mlx_lm.utils import load_tokenizer

    if not (tokenizer_dir / "tokenizer_config.json").is_file():
        raise InvalidExport(f"{tokenizer_dir} is not a model directory (no tokenizer_config.json)")
    try:
        tokenizer = load_tokenizer(tokenizer_dir)  # type: ignore[no-untyped-call]
    except Exception as exc:  # whatever transformers raises for a broken tokenizer: one line
        raise InvalidExport(f"cannot load the tokenizer in {tokenizer_dir}: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="punie-export-check-") as folder:
        os.symlink(path.resolve(), Path(folder) / "train.jsonl")  # the loader reads <data>/train.jsonl
        args = SimpleNamespace(data=folder, hf_dataset=False, train=False, test=False, mask_prompt=False)
        try:
            train, _, _ = load_dataset(args, tokenizer)
        except Exception as exc:
            raise InvalidExport(f"mlx-lm cannot load {path}: {exc}") from exc
        if len(train) == 0:
            return 0
        if type(train).__name__ != "ChatDataset":
            raise InvalidExport(f"mlx-lm reads {path} as {type(train).__name__}, not as chat data")
        for index in range(len(train)):
            try:
                tokens, _ = train.process(train[index])
            except Exception as exc:
                raise InvalidExport(
                    f"line {index + 1} of {path} does not render with the chat template: {exc}"
                ) from exc
            if not tokens:
                raise InvalidExport(f"line {index + 1} of {path} renders to no tokens")
    return len(train)
