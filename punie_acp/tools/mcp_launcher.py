"""Run an editor's stdio MCP server so that nothing it starts outlives punie.

`python -I -S mcp_launcher.py SERVER_PID GRACE -- ARGV…`: the MCP client speaks to the server
through this process's stdin/stdout, which the command inherits. The supervisor's rules apply
(see `supervisor.py`, whose `Supervisor` this reuses): on Linux a child subreaper with a
parent-death signal, so SIGKILL of punie still ends the server and all it started; SIGTERM
(the MCP client's way to stop a server that does not exit on EOF) kills everything too; when
the command exits, whatever it left running is killed and its status is ours.

Stdlib only, run with `-I -S` (nothing from the project or site-packages).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

# punie's own package (both __init__ files are empty), not the project: -I keeps that off sys.path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from punie_acp.tools import supervisor


def main(argv: list[str]) -> None:
    server_pid, grace = int(argv[1]), float(argv[2])
    command = argv[4:]  # argv[3] is "--"
    stop_requested: list[int] = []
    for sig in supervisor.STOP_SIGNALS:
        signal.signal(sig, lambda n, _f: stop_requested.append(n))
    sup = supervisor.Supervisor(grace, supervisor.harden(server_pid))
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])  # so sigtimedwait below sees it
    try:
        pid = os.fork()
    except OSError as exc:
        print(f"punie: cannot start the MCP server: {exc}", file=sys.stderr)
        os._exit(127)
    if pid == 0:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD])
        os.setpgid(0, 0)  # its own process group, which the kill sweep also signals
        if sys.platform.startswith("linux"):  # should the launcher itself be SIGKILLed, the server goes too
            import ctypes

            ctypes.CDLL(None).prctl(supervisor.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        for sig in (*supervisor.STOP_SIGNALS, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            print(f"punie: cannot start the MCP server {command[0]!r}: {exc.strerror or exc}", file=sys.stderr)
        os._exit(127)
    sup.command_pid = pid
    while sup.command_status is None and not stop_requested:
        with contextlib.suppress(InterruptedError):
            # A stop signal that arrives while waiting is taken here (not by its handler).
            info = signal.sigtimedwait([signal.SIGCHLD, *supervisor.STOP_SIGNALS], 0.5)
            if info is not None and info.si_signo in supervisor.STOP_SIGNALS:
                stop_requested.append(info.si_signo)
        sup.reap()
        if os.getppid() != server_pid:  # the server is gone (a second check beside the death signal)
            break
    sup.kill_everything()
    supervisor._exit_like(sup.command_status)


if __name__ == "__main__":
    main(sys.argv)
