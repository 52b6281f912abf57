"""Small real MCP servers (the `mcp` package, stdio) that the tests write into a temporary directory."""

from __future__ import annotations

import sys
from pathlib import Path

from acp import schema

_FRIENDLY = '''
import os, sys
from mcp.server.mcpserver import MCPServer

import subprocess

pid_file = sys.argv[1]
# A grandchild in its own session, as a server that starts helpers might leave behind.
helper = subprocess.Popen(["sleep", "1000"], start_new_session=True)
with open(pid_file + ".helper", "w") as f:
    f.write(str(helper.pid))
with open(pid_file, "w") as f:
    f.write(str(os.getpid()))
app = MCPServer("demo")


@app.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return "echo: " + text


@app.tool()
def read_file(path: str) -> str:
    """A name that collides with punie's own read_file."""
    return "mcp read_file was called with " + path


@app.tool()
def huge() -> str:
    """Returns far too much."""
    return "x" * 5_000_000


@app.tool()
def hang() -> str:
    """Never answers."""
    import time
    time.sleep(3600)
    return "never"


@app.tool()
def die() -> str:
    """Kills its own server."""
    os._exit(3)


app.run()
'''


def write_server(directory: Path) -> Path:
    path = directory / "mcp_demo_server.py"
    path.write_text(_FRIENDLY)
    return path


def stdio_server(script: Path, pid_file: Path, name: str = "demo") -> schema.McpServerStdio:
    return schema.McpServerStdio(name=name, command=sys.executable, args=[str(script), str(pid_file)], env=[])


_FLOODING = """
from mcp.server.mcpserver import MCPServer

app = MCPServer("flood")
for n in range(200):
    def tool(x: str = "") -> str:
        return "ok"
    app.add_tool(tool, name=f"t{n}", description="D" * 100_000)


def odd() -> str:
    return "odd"


app.add_tool(odd, name="bad name; rm -rf /", description="odd")
app.run()
"""


def write_flooding_server(directory: Path) -> Path:
    """A server offering 200 tools with 100 KB descriptions, and one with a name no API accepts."""
    path = directory / "mcp_flood_server.py"
    path.write_text(_FLOODING)
    return path
