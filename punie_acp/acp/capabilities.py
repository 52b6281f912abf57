"""What punie tells a client in `initialize`, in wire form, with the standard library only.

It is imported before the ACP SDK (see `early.py`), so it must stay free of heavy imports.
"""

from __future__ import annotations

from typing import Any

from punie_acp import __version__

PROTOCOL_VERSION = 1


def initialize_result() -> dict[str, Any]:
    return {
        "protocolVersion": PROTOCOL_VERSION,
        "agentCapabilities": {
            # Saved sessions (store/): load replays, list pages, resume, close. `session/delete` is
            # not advertised: SDK 0.12.1 cannot route it (it is `_punie/session/delete` meanwhile).
            "loadSession": True,
            "promptCapabilities": {"image": False, "audio": False, "embeddedContext": True},
            "mcpCapabilities": {"http": False, "sse": False},
            "sessionCapabilities": {"list": {}, "resume": {}, "close": {}},
        },
        "authMethods": [],
        "agentInfo": {"name": "punie", "title": "Punie", "version": __version__},
    }
