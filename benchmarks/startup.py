"""How soon `punie serve` answers `initialize` and `session/new` after it is spawned.

An editor spawns the agent and sends `initialize` and then `session/new` at once; the user sees
the agent panel wait for the second answer. Each spawn writes both requests as soon as the
process exists and times each answer from the spawn. The baselines, timed in the same run the
same way (spawn to exit): a bare interpreter, `import acp` (the SDK the server runs on), and the
imports the server waited for before answering `session/new` until PydanticAI became lazy
(SDK + PydanticAI + the tools).

    uv run --extra dev python -m benchmarks.startup [--spawns 7] [--model SPEC]

`--model` defaults to a tiny fabricated mlx model (its loading starts at once, as with a real
one, and competes for the interpreter while the session opens).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINES = {
    "python -c pass": "pass",
    "import acp": "import acp",
    "imports session/new waited for before": "import acp, pydantic_ai, punie_acp.acp.server, punie_acp.tools.registry",
}
TIMEOUT_S = 60.0


def _requests(cwd: str) -> bytes:
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1}}
    new = {"jsonrpc": "2.0", "id": 2, "method": "session/new", "params": {"cwd": cwd, "mcpServers": []}}
    return (json.dumps(init) + "\n" + json.dumps(new) + "\n").encode()


def _answers(proc: subprocess.Popen[bytes], started: float) -> dict[int, float]:
    """Seconds from spawn to each response (by id) until both are in."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen: dict[int, float] = {}
    buffer = b""
    while len(seen) < 2:
        if time.perf_counter() - started > TIMEOUT_S:
            raise RuntimeError(f"no answer within {TIMEOUT_S:.0f} s (got {sorted(seen)})")
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            raise RuntimeError("punie serve closed stdout early")
        now = time.perf_counter()
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            message = json.loads(line)
            if "id" in message and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"request {message['id']} failed: {message['error']}")
                seen[message["id"]] = now - started
    return seen


def spawn_once(model: str, project: str, home: str) -> tuple[float, float]:
    env = {**os.environ, "XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home, "XDG_STATE_HOME": home}
    command = [sys.executable, "-m", "punie_acp", "serve", "--model", model]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        assert proc.stdin is not None
        proc.stdin.write(_requests(project))
        proc.stdin.flush()
        seen = _answers(proc, started)
    finally:
        proc.kill()
        proc.wait()
    return seen[1], seen[2]


def baseline_once(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def _model(spec: str | None, scratch: Path) -> str:
    if spec is not None:
        return spec
    from tests.support.fabricate import write_random_model

    return str(write_random_model(scratch / "tiny-model"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spawns", type=int, default=7)
    parser.add_argument("--model", default=None, help="model spec (default: a tiny fabricated mlx model)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        model = _model(args.model, scratch)
        project = scratch / "project"
        project.mkdir()
        (scratch / "home").mkdir()
        times: dict[str, list[float]] = {name: [] for name in [*BASELINES, "initialize", "session/new"]}
        for _ in range(args.spawns):  # interleaved, so load on the machine hits every row alike
            for name, code in BASELINES.items():
                times[name].append(baseline_once(code))
            init, new = spawn_once(model, str(project), str(scratch / "home"))
            times["initialize"].append(init)
            times["session/new"].append(new)
    _table(times, args.spawns)


def _table(times: dict[str, list[float]], spawns: int) -> None:
    reference = statistics.median(times["imports session/new waited for before"])
    print(f"spawn → answer, median of {spawns} spawns (s); ratio to the imports session/new waited for before")
    print(f"{'':42} {'median':>8} {'min':>8} {'max':>8} {'ratio':>7}")
    for name in [*BASELINES, "initialize", "session/new"]:
        row = times[name]
        label = name if name in BASELINES else f"punie serve: {name} answered"
        median = statistics.median(row)
        print(f"{label:42} {median:8.3f} {min(row):8.3f} {max(row):8.3f} {median / reference:6.2f}×")


if __name__ == "__main__":
    main()
