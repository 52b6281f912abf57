"""What the editor offers, read from `initialize` however the SDK hands it over."""

from __future__ import annotations

from typing import Any

import pytest
from acp import schema

from punie_acp.acp.host import capabilities_of
from punie_acp.core.host import HostCapabilities


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, HostCapabilities()),
        # The SDK passes its default as a plain dict when the client sent a non-object.
        ({}, HostCapabilities()),
        ({"fs": {"readTextFile": True}, "terminal": True}, HostCapabilities(read_text_file=True, terminal=True)),
        ({"fs": "x", "terminal": [1]}, HostCapabilities()),
        (
            schema.ClientCapabilities(fs=schema.FileSystemCapabilities(write_text_file=True)),
            HostCapabilities(write_text_file=True),
        ),
    ],
)
def test_capabilities_are_read_from_a_model_or_a_plain_dict(given: Any, expected: HostCapabilities) -> None:
    assert capabilities_of(given) == expected
