"""The attack harness itself: it must see a leak and a marker when they happen (else it checks nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.hostile import SECRET, Outside, assert_contained, run_attack
from tests.support.acp_client import RecordingClient

pytestmark = pytest.mark.anyio


async def test_the_harness_sees_a_secret_the_model_quotes_and_a_marker_a_command_made(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    root = tmp_path / "root"
    root.mkdir()
    # An allowed command is the one legitimate way to run something; it must show up as a breach.
    result = await run_attack(
        root,
        [("run_command", {"command": f"{outside.payload()}; echo {SECRET}"})],
        tmp_path / "log",
        mode="ask",
        client=RecordingClient("allow_once"),
    )
    assert outside.marker.exists()
    assert SECRET in result.shown
    with pytest.raises(AssertionError):
        assert_contained(result, outside)
