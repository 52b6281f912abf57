"""ACP prompt content blocks to the text the model reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from acp import schema


def prompt_to_text(blocks: Sequence[Any]) -> str:
    pieces: list[str] = []
    for block in blocks:
        if isinstance(block, schema.TextContentBlock):
            pieces.append(block.text)
        elif isinstance(block, schema.ResourceContentBlock):
            pieces.append(f"[{block.name}]({block.uri})")
        elif isinstance(block, schema.EmbeddedResourceContentBlock):
            resource = block.resource
            text = getattr(resource, "text", None)
            if text is not None:
                pieces.append(f'<context uri="{resource.uri}">\n{text}\n</context>')
            else:
                pieces.append(f"[binary resource {resource.uri} omitted]")
        else:
            kind = getattr(block, "type", type(block).__name__)
            pieces.append(f"[{kind} content is not supported and was omitted]")
    return "\n".join(pieces)
