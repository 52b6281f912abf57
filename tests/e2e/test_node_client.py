"""`punie serve` driven by the official ACP TypeScript SDK (tests/node), via `node --test`.

A second, non-Python client implementation: if the TS SDK disagrees with our wire format
(schema rejections, silently dropped fields, protocol errors), the node run fails and its
output says what and where.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"

pytestmark = pytest.mark.timeout(600)


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_typescript_sdk_client_agrees_with_server() -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"needs node and npm on PATH (node={node}, npm={npm})")

    env = dict(os.environ)
    env["PUNIE_PYTHON"] = sys.executable
    env.pop("PUNIE_CMD", None)  # run this checkout with this interpreter
    env.setdefault("NO_COLOR", "1")

    if not (NODE_DIR / "node_modules" / "@agentclientprotocol" / "sdk").is_dir():
        install = _run([npm, "ci", "--no-audit", "--no-fund"], env, timeout=300)
        assert install.returncode == 0, f"npm ci failed:\n{install.stdout}\n{install.stderr}"

    result = _run([node, "--test"], env, timeout=420)
    assert result.returncode == 0, f"node --test failed:\n{result.stdout}\n{result.stderr}"
