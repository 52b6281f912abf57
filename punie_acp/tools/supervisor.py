"""Run one command so that nothing it starts outlives it, the tool call, or the server.

`process.py` starts this file as `python -I -S supervisor.py STATUS_FD SERVER_PID GRACE CWD [--stdin-fd FD] -- ARGV…`
in a new session. Its stdin is a pipe whose write end only the server holds: the supervisor takes EOF
there as "stop now", which is what the server sends on a timeout or a cancel (it closes its end)
and what the kernel sends when the server dies in any way, SIGKILL included (it closes every fd
of a dead process). The rules:

- stdin at EOF, or SIGTERM/SIGINT/SIGHUP to the supervisor (on Linux also the parent-death
  signal, a second trigger the command cannot defeat): kill everything, then exit.
- the command exits: kill whatever it left running, then exit with the command's status (a
  command killed by signal N makes the supervisor die by N too, so the server sees the same).

It reports on STATUS_FD, a line each: "pid<TAB>PID" before the command runs, then "ok" (or
"error<TAB>ERRNO<TAB>…" when it cannot start), and "done" once everything is gone; without "done" the server knows the
supervisor itself was killed and kills the command's process group itself.

"Everything" is every descendant. On Linux the supervisor is a child subreaper
(PR_SET_CHILD_SUBREAPER): a process that calls setsid() or double-forks leaves the command's
process group but, once orphaned, is re-parented to the supervisor rather than to init, so a
walk of /proc from the supervisor still finds it. Elsewhere (macOS) there is no subreaper: the
walk uses `/bin/ps` and the command's process group is signalled too, which misses only an
orphan that also left the group.

Killing: SIGTERM (then SIGCONT, so stopped processes see it) to all, up to GRACE s for them to
exit, then SIGKILL sweeps until none is left (a sweep also catches what forked meanwhile).

Stdlib only, and run with `-I -S`: no site-packages, no PYTHON* variables, nothing from the
project directory on sys.path. The command is started in CWD; the supervisor itself is not.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
SWEEP_PAUSE = 0.02  # seconds between checks while processes are going away
MAX_KILL_SWEEPS = 500  # a fork bomb must not keep the supervisor sweeping for ever


def harden(server_pid: int) -> bool:
    """Linux only (False elsewhere): adopt orphaned descendants, and make the server's death felt.

    - child subreaper: orphans below us come to us, not to init;
    - not dumpable: the command (same user) cannot open /proc/<us>/fd/0 to hold our control
      pipe open, which would hide the server's death; the flag is reset for it on exec;
    - parent-death signal: SIGTERM when the server dies, a second trigger beside the pipe. (It
      fires when the *thread* that started us ends; the server starts commands from its event
      loop's thread, which lives as long as the server. Were it ever a short-lived thread, the
      symptom would be a command stopped early, never one left running.)
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != server_pid:  # the server died before the signal was armed
        os.kill(os.getpid(), signal.SIGTERM)
    return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


def process_table() -> dict[int, tuple[int, bool]]:
    """pid -> (parent pid, alive) for every process we can see; zombies are not alive."""
    return proc_table() if os.path.isdir("/proc/self") else ps_table()


def proc_table() -> dict[int, tuple[int, bool]]:
    table: dict[int, tuple[int, bool]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat_file:
                stat = stat_file.read()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rfind(b")") + 2 :].split()  # state ppid …
        table[int(name)] = (int(fields[1]), fields[0] not in (b"Z", b"X"))
    return table


def ps_table() -> dict[int, tuple[int, bool]]:
    """The same from ps (macOS and other systems without /proc)."""
    # An absolute path: the command's PATH may put the project's own `ps` first.
    listing = subprocess.run(
        ["/bin/ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "stat="],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    table: dict[int, tuple[int, bool]] = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].isdigit() and parts[1].isdigit():
            table[int(parts[0])] = (int(parts[1]), not parts[2].startswith("Z"))
    return table


def descendants(root: int, table: dict[int, tuple[int, bool]]) -> list[int]:
    """The living processes below `root` in the parent tree."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _alive) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        if table[pid][1]:
            found.append(pid)
        stack.extend(children.get(pid, []))
    return found


class Supervisor:
    def __init__(self, grace: float, subreaper: bool) -> None:
        self.grace = grace
        self.subreaper = subreaper
        self.command_pid = 0
        self.command_status: int | None = None  # the raw wait status once the command is reaped

    def reap(self) -> None:
        """Collect every exited child (descendants we adopted included), noting the command's status."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.command_pid:
                self.command_status = status

    def living(self) -> list[int]:
        return descendants(os.getpid(), process_table())

    def _group_alive(self) -> bool:
        if self.subreaper or not self.command_pid:
            return False
        try:
            os.killpg(self.command_pid, 0)
        except OSError:
            return False
        return True

    def signal_all(self, sig: int) -> bool:
        """Send `sig` to every living descendant (and, without a subreaper, the command's group)."""
        pids = self.living()
        for pid in pids:
            with contextlib.suppress(OSError):  # exited meanwhile
                os.kill(pid, sig)
        group = self._group_alive()
        if group:
            try:
                os.killpg(self.command_pid, sig)
            except OSError:
                group = False
        return bool(pids) or group

    def kill_everything(self) -> None:
        self.reap()
        if self.signal_all(signal.SIGTERM):
            self.signal_all(signal.SIGCONT)
            deadline = time.monotonic() + self.grace
            while time.monotonic() < deadline:
                time.sleep(SWEEP_PAUSE)
                self.reap()
                if not self.living() and not self._group_alive():
                    return
        for _ in range(MAX_KILL_SWEEPS):
            self.reap()
            if not self.signal_all(signal.SIGKILL):
                break
            time.sleep(SWEEP_PAUSE)
        self.reap()


def _report(status_fd: int, text: str) -> None:
    os.write(status_fd, (text + "\n").encode("utf-8", errors="replace"))


def _exit_like(status: int | None) -> None:
    """Exit with the command's status: its exit code, or death by the same signal."""
    if status is None:
        os._exit(1)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # dying by SIGSEGV & co must not dump our core
        if number not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot have handlers
            signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        os._exit(128 + number)  # only reached for a signal that does not terminate
    os._exit(os.waitstatus_to_exitcode(status))


def _child(command: list[str], cwd: str, go: int, errors: int, stdin_fd: int | None) -> None:
    """In the forked child: wait until the server knows our pid, then become the command."""
    try:
        if not os.read(go, 1):
            os._exit(127)  # the supervisor is gone: run nothing
        os.setsid()  # its own session and process group
        os.chdir(cwd)
        source = stdin_fd if stdin_fd is not None else os.open(os.devnull, os.O_RDONLY)
        os.dup2(source, 0)  # the given pipe or an empty stdin (never the control pipe); stdout and stderr are ours
        os.closerange(3, errors)
        os.closerange(errors + 1, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024)
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores these; exec would keep that
            signal.signal(sig, signal.SIG_DFL)
        os.execvp(command[0], command)
    except OSError as exc:
        why = f"{exc.errno or 0}\t{exc.strerror or exc}\t{exc.filename or command[0]}"
        os.write(errors, why.encode(errors="replace"))
    os._exit(127)


def start_command(command: list[str], cwd: str, status_fd: int, stdin_fd: int | None = None) -> int:
    """Fork and exec the command; its pid goes to the server before it runs a single instruction.

    (A command quick enough could otherwise kill us before we said which process it is.)
    Exits when the command cannot be started, after reporting why.
    """
    go_read, go_write = os.pipe()
    errors_read, errors_write = os.pipe()  # close-on-exec: EOF here means the exec worked
    pid = os.fork()
    if pid == 0:
        _child(command, cwd, go_read, errors_write, stdin_fd)
    if stdin_fd is not None:
        os.close(stdin_fd)  # the command's now; holding it would hide its end of the pipe
    os.close(go_read)
    os.close(errors_write)
    _report(status_fd, f"pid\t{pid}")
    os.write(go_write, b"g")
    os.close(go_write)
    failure = b""
    while chunk := os.read(errors_read, 4096):
        failure += chunk
    os.close(errors_read)
    if failure:
        _report(status_fd, "error\t" + failure.decode("utf-8", errors="replace"))
        os.waitpid(pid, 0)
        os._exit(127)
    _report(status_fd, "ok")
    return pid


def main(argv: list[str]) -> None:
    status_fd, server_pid, grace, cwd = int(argv[1]), int(argv[2]), float(argv[3]), argv[4]
    stdin_fd = None
    rest = argv[5:]
    if rest[0] == "--stdin-fd":  # a long-lived command (a language server) talks over this pipe
        stdin_fd, rest = int(rest[1]), rest[2:]
    command = rest[1:]  # rest[0] is "--"
    stop_requested: list[int] = []
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)  # every signal (SIGCHLD included) wakes the select below
    signal.signal(signal.SIGCHLD, lambda _n, _f: None)
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda n, _f: stop_requested.append(n))
    supervisor = Supervisor(grace, harden(server_pid))
    pid = start_command(command, cwd, status_fd, stdin_fd)
    supervisor.command_pid = pid
    control_open = True
    while True:
        supervisor.reap()
        if supervisor.command_status is not None or stop_requested or not control_open:
            break
        ready, _, _ = select.select([0, wake_read], [], [])
        if wake_read in ready:
            try:
                while os.read(wake_read, 512):
                    pass
            except BlockingIOError:
                pass
        if 0 in ready and not os.read(0, 512):
            control_open = False  # the server closed its end, or died
    supervisor.kill_everything()
    _report(status_fd, "done")  # the server checks this: no "done" means we were killed, and it cleans up
    _exit_like(supervisor.command_status)


if __name__ == "__main__":
    main(sys.argv)
