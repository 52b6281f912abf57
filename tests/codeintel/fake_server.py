"""A test double for a misbehaving language server (stdlib only): `python fake_server.py MODE STATE_DIR`.

Modes: `die` (exits on every definition request; counts its starts in STATE_DIR), `silent` (never
answers after initialize), `flood` (100k notifications, then answers), `huge` (announces a 2 GiB
body), `garbage` (a body that is not JSON, then a correct answer).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def send(message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    sys.stdout.buffer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    sys.stdout.buffer.flush()


def read() -> dict[str, Any] | None:
    length = 0
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return None
        if line.strip() == b"":
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    parsed: dict[str, Any] = json.loads(sys.stdin.buffer.read(length))
    return parsed


def main(mode: str, state: Path) -> None:
    starts = state / "starts"
    starts.write_text(str(int(starts.read_text() or "0") + 1) if starts.exists() else "1")
    while (message := read()) is not None:
        method, msg_id = message.get("method"), message.get("id")
        with (state / "methods").open("a") as log:
            log.write(f"{method}\n")
        if method == "initialize":
            send({"jsonrpc": "2.0", "id": msg_id, "result": {"capabilities": {"definitionProvider": True}}})
        elif msg_id is None:
            continue
        elif mode == "die":
            sys.exit(3)
        elif mode == "silent":
            continue
        elif mode == "flood":
            for n in range(100_000):
                send({"jsonrpc": "2.0", "method": "window/logMessage", "params": {"type": 4, "message": str(n)}})
            send({"jsonrpc": "2.0", "id": msg_id, "result": []})
        elif mode == "huge":
            sys.stdout.buffer.write(b"Content-Length: 2147483648\r\n\r\n{")
            sys.stdout.buffer.flush()
        elif mode == "garbage":
            body = b"{not json"
            sys.stdout.buffer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            uri = "file:///etc/passwd"
            send(
                {
                    "jsonrpc": "2.0",
                    "id": msg_id,
                    "result": [
                        {
                            "uri": uri,
                            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
                        }
                    ],
                }
            )


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
