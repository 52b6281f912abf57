"""Answer `initialize` while the heavy modules are still importing.

Importing the ACP SDK takes about half a second (PydanticAI, over a second more, is not imported
before `session/new` is answered: `core/preload.py`); editors start agents with a deadline (Zed
gives up after 30 s, and every user sees the wait). So `punie serve` imports the SDK and the server
on a thread while the main thread reads the first line from stdin with plain `os.read`; if it
is a well-formed `initialize`, it is answered at once from `capabilities.py`, written by the same
strict encoder as every later message (so byte for byte what the SDK path writes). Anything
doubtful, that first line included, is handed to the real transport, which answers it as
JSON-RPC requires and takes over from there.
"""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from punie_acp.acp.capabilities import initialize_result
from punie_acp.acp.wire import decode_line, encode_message

HEAVY_MODULES = ("punie_acp.acp.server", "punie_acp.models.registry")
# The schema's range for `protocolVersion` (uint16); beyond it the SDK answers invalid params.
MAX_PROTOCOL_VERSION = 65535


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
    accepted = _acceptable_initialize(line) if sep else None
    if accepted is not None:
        id_, params = accepted
        _write_all(protocol_fd, encode_message({"jsonrpc": "2.0", "id": id_, "result": initialize_result()}))
        result.initialize_params = params
    result.leftover = rest if accepted is not None else data
    importer.join()
    if result.import_error is not None:
        raise result.import_error
    return result


def _acceptable_initialize(line: bytes) -> tuple[str | int, dict[str, Any]] | None:
    """The id and cleaned params of an `initialize` beyond doubt, else None.

    Anything doubtful (not strict JSON, an odd id, a protocol version out of range) is left for
    the real transport and the SDK, which answer it as JSON-RPC requires; what is answered here
    gets exactly the bytes the SDK path would write.
    """
    try:
        message = decode_line(line)
    except ValueError:
        return None
    if not (
        isinstance(message, dict)
        and message.get("jsonrpc") == "2.0"
        and message.get("method") == "initialize"
        and isinstance(message.get("id"), int | str)
        and not isinstance(message.get("id"), bool)
        and isinstance(message.get("params"), dict)
    ):
        return None
    version = message["params"].get("protocolVersion")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= MAX_PROTOCOL_VERSION:
        return None
    return message["id"], _clean_params(version, message["params"])


def _clean_params(version: int, params: dict[str, Any]) -> dict[str, Any]:
    """The parts of the params punie uses, each of the type the schema gives it (others dropped).

    The agent adopts these once the SDK has loaded; a value of the wrong type means "not
    offered", as the SDK's own lenient parsing treats it.
    """
    clean: dict[str, Any] = {"protocolVersion": version, "clientCapabilities": _clean_capabilities(params)}
    info = params.get("clientInfo")
    if isinstance(info, dict) and isinstance(info.get("name"), str) and isinstance(info.get("version"), str):
        clean["clientInfo"] = {key: info[key] for key in ("name", "title", "version") if isinstance(info.get(key), str)}
    return clean


def _clean_capabilities(params: dict[str, Any]) -> dict[str, Any]:
    offered = params.get("clientCapabilities")
    if not isinstance(offered, dict):
        return {}
    clean: dict[str, Any] = {}
    fs = offered.get("fs")
    if isinstance(fs, dict):
        clean["fs"] = {key: fs[key] for key in ("readTextFile", "writeTextFile") if isinstance(fs.get(key), bool)}
    if isinstance(offered.get("terminal"), bool):
        clean["terminal"] = offered["terminal"]
    return clean


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
