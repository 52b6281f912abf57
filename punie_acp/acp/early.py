"""Answer `initialize` while the heavy modules are still importing.

Importing the ACP SDK and PydanticAI takes over a second; editors start agents with a
deadline (Zed gives up after 30 s, and every user sees the wait). So `punie serve` imports them
on a thread while the main thread reads the first line from stdin with plain `os.read`; if it
is `initialize`, it is answered at once from `capabilities.py`. Everything read past that line
is handed to the real transport, which takes over from there.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from punie_acp.acp.capabilities import initialize_result

HEAVY_MODULES = ("punie_acp.acp.server", "punie_acp.models.registry")


@dataclass
class EarlyStart:
    leftover: bytes = b""
    initialize_params: dict[str, Any] | None = None
    import_error: BaseException | None = field(default=None, repr=False)


def _import_heavy(result: EarlyStart) -> None:
    try:
        for name in HEAVY_MODULES:
            importlib.import_module(name)
    except BaseException as exc:  # re-raised on the main thread
        result.import_error = exc


def _read_line(fd: int, limit: int) -> bytes:
    data = bytearray()
    while b"\n" not in data and len(data) < limit:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data.extend(chunk)
    return bytes(data)


def early_start(stdin_fd: int, protocol_fd: int, max_line_bytes: int) -> EarlyStart:
    result = EarlyStart()
    importer = threading.Thread(target=_import_heavy, args=(result,), name="punie-import", daemon=True)
    importer.start()
    data = _read_line(stdin_fd, max_line_bytes)
    line, sep, rest = data.partition(b"\n")
    answered = False
    if sep:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if (
            isinstance(message, dict)
            and message.get("jsonrpc") == "2.0"
            and message.get("method") == "initialize"
            and isinstance(message.get("id"), int | str)
            and isinstance(message.get("params"), dict)
            and isinstance(message["params"].get("protocolVersion"), int)
        ):
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": initialize_result()}
            os.write(protocol_fd, (json.dumps(reply, separators=(",", ":")) + "\n").encode())
            result.initialize_params = message["params"]
            answered = True
    result.leftover = rest if answered else data
    importer.join()
    if result.import_error is not None:
        raise result.import_error
    return result
