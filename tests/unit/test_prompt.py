from __future__ import annotations

import acp
from acp import schema

from punie_acp.acp.prompt import prompt_to_text


def test_prompt_blocks_become_text_the_model_reads() -> None:
    blocks = [
        acp.text_block("fix this"),
        acp.resource_link_block("app.py", "file:///p/app.py"),
        acp.resource_block(acp.embedded_text_resource("file:///p/b.py", "x = 1")),
        schema.ImageContentBlock(type="image", data="AAAA", mime_type="image/png"),
    ]
    text = prompt_to_text(blocks)
    assert "fix this" in text
    assert "[app.py](file:///p/app.py)" in text
    assert '<context uri="file:///p/b.py">\nx = 1\n</context>' in text
    assert "image content is not supported" in text
