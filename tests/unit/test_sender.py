from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest

from punie_acp.acp.sender import UpdateSender
from punie_acp.core.events import TextDelta, ThoughtDelta, ToolStarted

pytestmark = pytest.mark.anyio


async def test_deltas_merge_while_the_client_is_slow_and_order_is_kept() -> None:
    sent: list[Any] = []
    gate = anyio.Event()

    async def send(update: Any) -> None:
        await gate.wait()  # the client has not read anything yet
        sent.append(update)

    sender = UpdateSender(send)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sender.run)
        await sender.push(ThoughtDelta("a"))
        await anyio.lowlevel.checkpoint()  # the sender takes "a" and blocks in send
        for piece in ("b", "c"):
            await sender.push(ThoughtDelta(piece))
        await sender.push(ToolStarted("c1", "read_file", "read", "Read x", {"path": "x"}))
        for piece in ("d", "e", "f"):
            await sender.push(TextDelta(piece))
        gate.set()
        await sender.close()
    kinds = [(u.session_update, getattr(getattr(u, "content", None), "text", None)) for u in sent]
    assert kinds == [
        ("agent_thought_chunk", "a"),
        ("agent_thought_chunk", "bc"),
        ("tool_call", None),
        ("agent_message_chunk", "def"),
    ]


async def test_a_fast_client_gets_one_chunk_per_delta() -> None:
    sent: list[Any] = []

    async def send(update: Any) -> None:
        sent.append(update)

    sender = UpdateSender(send, min_interval=0.0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sender.run)
        for piece in ("x", "y", "z"):
            await sender.push(TextDelta(piece))
            await anyio.sleep(0.001)  # a real model is slower than the pipe
        await sender.close()
    assert [u.content.text for u in sent] == ["x", "y", "z"]


async def test_a_gone_client_makes_the_next_push_fail() -> None:
    async def send(update: Any) -> None:
        raise ConnectionError("closed")

    sender = UpdateSender(send)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sender.run)
        await sender.push(TextDelta("x"))
        await sender.close()
    with pytest.raises(ConnectionError):
        await sender.push(TextDelta("y"))


async def test_a_burst_within_the_interval_leaves_as_few_chunks() -> None:
    sent: list[Any] = []

    async def send(update: Any) -> None:
        sent.append(update)

    sender = UpdateSender(send, min_interval=0.5)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sender.run)
        for i in range(20):
            await sender.push(TextDelta(str(i % 10)))
            await anyio.sleep(0.001)
        await sender.close()
    assert "".join(u.content.text for u in sent) == "01234567890123456789"
    assert len(sent) <= 3  # the first goes at once; the rest merge while the interval runs
