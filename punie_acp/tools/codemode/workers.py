"""The `monty` worker binary, wrapped so that a worker dies with the server.

An idle Monty worker exits when the server dies (its request pipe closes), but a busy one
notices only when its program stops: a SIGKILLed server would leave a spinning worker behind
for up to the code time limit (measured: `tests/codemode/test_run_code_serve.py`). On Linux
each worker is therefore started through util-linux `setpriv --pdeathsig KILL`, so the kernel
kills it the moment the server is gone. The parent-death signal follows the thread that
started the worker: pools are entered on the event loop's thread, which lives as long as the
server; were a worker started from a thread that ends first, it would die with it and its
program fail as a crashed sandbox, never run unbounded.

Where `setpriv` is missing (macOS), workers run unwrapped and the time limit is the bound.
"""

from __future__ import annotations

import atexit
import functools
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from pydantic_monty._binary import find_monty_binary

SETPRIV_CANDIDATES = ("/usr/bin/setpriv", "/bin/setpriv")


def _setpriv() -> str | None:
    if not sys.platform.startswith("linux"):
        return None
    return next((path for path in SETPRIV_CANDIDATES if os.access(path, os.X_OK)), None)


@functools.cache
def worker_binary() -> str | None:
    """A wrapper script to pass as Monty's `binary_path`, or None to let Monty find its own."""
    setpriv = _setpriv()
    if setpriv is None:
        return None
    monty = find_monty_binary()
    directory = Path(tempfile.mkdtemp(prefix="punie-monty-"))  # 0700, ours alone
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    wrapper = directory / "monty-worker"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(setpriv)} --pdeathsig KILL -- {shlex.quote(monty)} "$@"\n')
    wrapper.chmod(0o700)
    return str(wrapper)
