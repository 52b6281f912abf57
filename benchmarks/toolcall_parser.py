"""Throughput of the shared tool-call parser (`punie_acp.models.toolcalls.ReplyParser`).

The floor, measured in the same run on the same pieces, is mlx-lm's own `TextStateMachine`
splitting the text at the same four markers without any recovery (what the parser replaced).
Each case streams a reply in small pieces, as a server's deltas or a model's tokens arrive.

    python benchmarks/toolcall_parser.py [--kb 500] [--piece 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from punie_acp.models.toolcalls import ReplyParser

TOOLS = [{"type": "function", "function": {"name": "write_file", "parameters": {}}}]


def cases(size: int) -> dict[str, str]:
    body = "x" * size
    return {
        "prose": "word " * (size // 5),
        "<tool_call> JSON": '<tool_call>{"name": "write_file", "arguments": {"content": "' + body + '"}}</tool_call>',
        "untagged JSON call": '{"name": "write_file", "arguments": {"content": "' + body + '"}}',
        "stray closing tags": "a</tool_call>" * (size // 13),
    }


def punie(pieces: list[str]) -> None:
    parser = ReplyParser(TOOLS)
    for piece in pieces:
        parser.feed(piece)
    parser.finish()


def mlx_floor(pieces: list[str]) -> None:
    from mlx_lm.generate import TextStateMachine

    machine = TextStateMachine(  # type: ignore[no-untyped-call]
        {
            "normal": [("<think>", "reasoning"), ("<tool_call>", "tool"), ("</tool_call>", "normal")],
            "reasoning": [("</think>", "normal"), ("<tool_call>", "tool")],
            "tool": [("</tool_call>", "normal")],
        }
    )
    state: Any = machine.make_state("normal")  # type: ignore[no-untyped-call]
    for piece in pieces:
        state, _ = TextStateMachine.split(state, piece)  # type: ignore[no-untyped-call]


def best_of(run: Callable[[list[str]], None], pieces: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(pieces)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kb", type=int, default=500, help="size of each reply in KB")
    parser.add_argument("--piece", type=int, default=4, help="characters per streamed piece")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    mlx_floor(["warm up"])  # import mlx-lm outside the timings
    print(f"{'case':<22}{'punie s':>10}{'mlx-lm floor s':>16}{'ratio':>8}")
    for name, text in cases(args.kb * 1000).items():
        pieces = [text[i : i + args.piece] for i in range(0, len(text), args.piece)]
        ours = best_of(punie, pieces, args.repeat)
        floor = best_of(mlx_floor, pieces, args.repeat)
        print(f"{name:<22}{ours:>10.3f}{floor:>16.3f}{ours / floor:>8.2f}")


if __name__ == "__main__":
    main()
