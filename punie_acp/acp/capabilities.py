"""What punie tells a client in `initialize`, in wire form, with the standard library only.

It is imported before the ACP SDK (see `early.py`), so it must stay free of heavy imports.
"""

from __future__ import annotations

from typing import Any

from punie_acp import __version__

PROTOCOL_VERSION = 1
# punie runs on the user's machine with nothing to sign in to. Registries and some clients want
# at least one auth method, so it offers one that says so and succeeds at once.
AUTH_METHOD_ID = "local"
AUTH_METHOD = {
    "id": AUTH_METHOD_ID,
    "name": "Local",
    "description": "no sign-in: runs locally",
}


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
        "authMethods": [AUTH_METHOD],
        "agentInfo": {"name": "punie", "title": "Punie", "version": __version__},
    }
