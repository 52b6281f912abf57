"""Hostile git repositories for the git tool attacks: each builder prepares a project root.

A builder gets an empty `root` and the `Outside` world, shapes the root the way an attacker would
ship it (a tarball, a shared folder, a repository inside a clone), and returns the tool calls the
scripted model makes against it. Git runs here with no user or system configuration, so what
the tools see is exactly what the builder made.
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.security.hostile import SECRET, Outside

Steps = list[tuple[str, dict[str, Any]]]
Builder = Callable[[Path, Outside], Steps]

GIT_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_AUTHOR_NAME": "Mallory",
    "GIT_AUTHOR_EMAIL": "mallory@example.com",
    "GIT_COMMITTER_NAME": "Mallory",
    "GIT_COMMITTER_EMAIL": "mallory@example.com",
    "GIT_AUTHOR_DATE": "2024-05-01T12:00:00",
    "GIT_COMMITTER_DATE": "2024-05-01T12:00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

ALL_TOOLS: Steps = [("git_status", {}), ("git_diff", {}), ("git_diff", {"staged": True}), ("git_log", {})]


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, input=stdin, check=True, capture_output=True)
    return done.stdout.decode()


def config(repo: Path, key: str, value: str, *, git_dir: str = ".git") -> None:
    git(repo, "config", "--file", str(repo / git_dir / "config"), key, value)


def stale(path: Path) -> None:
    """Make the index's stat data disagree with `path` (as after unpacking a tarball): git re-reads it."""
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 5_000_000_000))


def committed(root: Path, files: dict[str, str] | None = None, message: str = "first") -> Path:
    """`root` as a repository with one commit of `files` (a.py by default)."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    for name, text in (files or {"a.py": "one\n"}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return root


def private_repo(outside: Outside) -> Path:
    """A repository of the user's outside the project: a secret in a file and in a commit subject."""
    repo = outside.base / "private"
    committed(repo, {"keys.txt": f"token = {SECRET}\n"}, message=f"rotate {SECRET}")
    return repo


def signed_commit(repo: Path, signature: str) -> None:
    """Point main at a commit that carries a (fake) signature of the given armour."""
    tree = git(repo, "write-tree").strip()
    body = "\n".join(" " + line for line in signature.splitlines())
    text = (
        f"tree {tree}\nauthor M <m@x> 1700000000 +0000\ncommitter M <m@x> 1700000000 +0000\n"
        f"gpgsig{body}\n\nsigned work\n"
    )
    sha = git(repo, "hash-object", "-t", "commit", "-w", "--stdin", stdin=text.encode()).strip()
    git(repo, "update-ref", "refs/heads/main", sha)


def write_index(path: Path, entries: Sequence[tuple[str, str]]) -> None:
    """A version-2 index file listing `(name, blob sha)` entries verbatim (git refuses to add such names)."""
    body = b"DIRC" + struct.pack(">II", 2, len(entries))
    for name, sha in sorted(entries):
        raw = name.encode()
        entry = struct.pack(">10I", 0, 0, 0, 0, 0, 0, 0o100644, 0, 0, 0) + bytes.fromhex(sha)
        entry += struct.pack(">H", min(len(raw), 0xFFF)) + raw
        body += entry + b"\0" * (8 - len(entry) % 8)
    path.write_bytes(body + hashlib.sha1(body).digest())


# Commands the repository chooses --------------------------------------------------------------


def filter_clean(root: Path, outside: Outside) -> Steps:
    committed(root, {"a.py": "one\n", ".gitattributes": "* filter=evil\n"})
    config(root, "filter.evil.clean", str(outside.script()))
    config(root, "filter.evil.smudge", str(outside.script()))
    stale(root / "a.py")
    return ALL_TOOLS


def filter_process(root: Path, outside: Outside) -> Steps:
    committed(root, {"a.py": "one\n", ".gitattributes": "*.py filter=lfs\n"})
    config(root, "filter.lfs.process", str(outside.script()))
    config(root, "filter.lfs.required", "true")
    stale(root / "a.py")
    return ALL_TOOLS


def attributes_file(root: Path, outside: Outside) -> Steps:
    committed(root, {"a.py": "one\n", "docs/attrs": "* filter=evil diff=evil\n"})
    config(root, "core.attributesFile", str(root / "docs" / "attrs"))
    config(root, "filter.evil.clean", str(outside.script()))
    config(root, "diff.evil.textconv", str(outside.script()))
    (root / "a.py").write_text("two\n")
    return ALL_TOOLS


def info_attributes(root: Path, outside: Outside) -> Steps:
    committed(root)
    (root / ".git" / "info" / "attributes").write_text("* filter=evil\n")
    config(root, "filter.evil.clean", str(outside.script()))
    stale(root / "a.py")
    return ALL_TOOLS


def include_path(root: Path, outside: Outside) -> Steps:
    committed(root, {"a.py": "one\n", ".gitattributes": "* filter=evil\n"})
    (root / "tools.cfg").write_text(f'[filter "evil"]\n\tclean = {outside.script()}\n')
    config(root, "include.path", "../tools.cfg")
    stale(root / "a.py")
    return ALL_TOOLS


def include_if(root: Path, outside: Outside) -> Steps:
    committed(root, {"a.py": "one\n", ".gitattributes": "* filter=evil\n"})
    (root / "tools.cfg").write_text(f'[filter "evil"]\n\tclean = {outside.script()}\n')
    config(root, "includeIf.gitdir:/.path", "../tools.cfg")
    config(root, "includeIf.onbranch:main.path", "../tools.cfg")
    stale(root / "a.py")
    return ALL_TOOLS


def gpg_program(root: Path, outside: Outside) -> Steps:
    committed(root)
    signed_commit(root, "-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----")
    config(root, "log.showSignature", "true")
    config(root, "gpg.program", str(outside.script()))
    return [("git_log", {}), ("git_log", {"path": "a.py"})]


def gpg_ssh_program(root: Path, outside: Outside) -> Steps:
    committed(root)
    signed_commit(root, "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----")
    config(root, "log.showSignature", "true")
    config(root, "gpg.ssh.program", str(outside.script()))
    config(root, "gpg.ssh.allowedSignersFile", str(root / "signers"))
    return [("git_log", {})]


def gpg_x509_program(root: Path, outside: Outside) -> Steps:
    committed(root)
    signed_commit(root, "-----BEGIN SIGNED MESSAGE-----\nAAAA\n-----END SIGNED MESSAGE-----")
    config(root, "log.showSignature", "true")
    config(root, "gpg.x509.program", str(outside.script()))
    return [("git_log", {})]


def fsmonitor(root: Path, outside: Outside) -> Steps:
    committed(root)
    config(root, "core.fsmonitor", str(outside.script()))
    config(root, "core.untrackedCache", "true")
    return ALL_TOOLS


def diff_drivers(root: Path, outside: Outside) -> Steps:
    committed(root, {"a.py": "one\n", ".gitattributes": "* diff=evil\n"})
    config(root, "diff.external", str(outside.script()))
    config(root, "diff.evil.command", str(outside.script()))
    config(root, "diff.evil.textconv", str(outside.script()))
    (root / "a.py").write_text("two\n")
    git(root, "add", "a.py")
    (root / "a.py").write_text("three\n")
    return ALL_TOOLS


def pagers_and_editors(root: Path, outside: Outside) -> Steps:
    committed(root)
    for key in ("core.pager", "pager.status", "pager.diff", "pager.log", "core.editor", "sequence.editor"):
        config(root, key, str(outside.script()))
    for key in ("core.askPass", "core.sshCommand", "credential.helper", "core.gitProxy"):
        config(root, key, str(outside.script()))
    config(root, "alias.status", f"!{outside.payload()}")
    return ALL_TOOLS


def hooks(root: Path, outside: Outside) -> Steps:
    committed(root)
    hook_dir = root / "githooks"
    hook_dir.mkdir()
    for name in ("post-index-change", "pre-commit", "post-checkout", "reference-transaction"):
        (hook_dir / name).symlink_to(outside.script())
        (root / ".git" / "hooks" / name).symlink_to(outside.script())
    config(root, "core.hooksPath", str(hook_dir))
    stale(root / "a.py")
    return ALL_TOOLS


def submodule_config(root: Path, outside: Outside) -> Steps:
    """An embedded repository with its own hostile config: status would recurse into it."""
    committed(root)
    sub = committed(root / "vendor", {"lib.py": "x = 1\n", ".gitattributes": "* filter=evil\n"})
    config(sub, "filter.evil.clean", str(outside.script()))
    config(sub, "core.fsmonitor", str(outside.script()))
    git(root, "add", "vendor")
    git(root, "commit", "-q", "-m", "vendor")
    config(root, "diff.submodule", "diff")
    config(root, "status.submoduleSummary", "true")
    stale(sub / "lib.py")
    return ALL_TOOLS


def bare_root(root: Path, outside: Outside) -> Steps:
    """The root itself laid out as a git directory (HEAD, objects, refs, config) with core.worktree."""
    root.mkdir()
    git(root, "init", "-q", "--bare", "-b", "main")
    config(root, "core.bare", "false", git_dir=".")
    config(root, "core.worktree", str(root), git_dir=".")
    (root / "a.py").write_text("one\n")
    (root / ".gitattributes").write_text("* filter=evil\n")
    git(root, "--git-dir=.", "--work-tree=.", "add", "a.py", ".gitattributes")
    config(root, "filter.evil.clean", str(outside.script()), git_dir=".")
    stale(root / "a.py")
    return ALL_TOOLS


def lazy_fetch(root: Path, outside: Outside) -> Steps:
    """A partial clone missing a blob: reading it fetches from the promisor remote, running its transport."""
    committed(root)
    blob = git(root, "rev-parse", "HEAD:a.py").strip()
    (root / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    config(root, "core.repositoryformatversion", "1")
    config(root, "extensions.partialClone", "origin")
    config(root, "remote.origin.url", str(outside.base / "upstream.git"))
    config(root, "remote.origin.promisor", "true")
    config(root, "remote.origin.uploadpack", str(outside.script()))
    (root / "a.py").write_text("changed\n")
    return ALL_TOOLS


def lazy_fetch_ssh(root: Path, outside: Outside) -> Steps:
    steps = lazy_fetch(root, outside)
    config(root, "remote.origin.url", "ssh://git@example.invalid/repo.git")
    config(root, "core.sshCommand", str(outside.script()))
    return steps


# Reading outside the root ---------------------------------------------------------------------


def gitfile(root: Path, outside: Outside) -> Steps:
    """`.git` is a file naming another repository of the user's."""
    private = private_repo(outside)
    root.mkdir()
    (root / ".git").write_text(f"gitdir: {private / '.git'}\n")
    return ALL_TOOLS


def gitfile_relative(root: Path, outside: Outside) -> Steps:
    private = private_repo(outside)
    root.mkdir()
    (root / ".git").write_text(f"gitdir: {os.path.relpath(private / '.git', root)}")
    return ALL_TOOLS


def git_symlink(root: Path, outside: Outside) -> Steps:
    private = private_repo(outside)
    root.mkdir()
    (root / ".git").symlink_to(private / ".git")
    return ALL_TOOLS


def commondir(root: Path, outside: Outside) -> Steps:
    """A linked-worktree git dir whose common dir (refs, objects, config) is another repository."""
    private = private_repo(outside)
    root.mkdir()
    git_dir = root / ".gitdir"
    git_dir.mkdir()
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    (git_dir / "commondir").write_text(str(private / ".git") + "\n")
    (root / ".git").write_text("gitdir: .gitdir\n")
    return ALL_TOOLS


def alternates(root: Path, outside: Outside) -> Steps:
    """The object store borrows another repository's objects; the index names one of its blobs."""
    private = private_repo(outside)
    committed(root)
    info = root / ".git" / "objects" / "info"
    info.mkdir(exist_ok=True)
    (info / "alternates").write_text(f"{private / '.git' / 'objects'}\n")
    blob = git(private, "rev-parse", "HEAD:keys.txt").strip()
    git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},notes.txt")
    return ALL_TOOLS


def symlinked_store(root: Path, outside: Outside) -> Steps:
    """Objects and packed refs inside `.git` are symlinks to another repository's."""
    private = private_repo(outside)
    git(private, "pack-refs", "--all")
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    dot = root / ".git"
    for name in ("objects", "packed-refs"):
        target = dot / name
        if target.is_dir():
            subprocess.run(["rm", "-rf", str(target)], check=True)
        target.unlink(missing_ok=True)
        target.symlink_to(private / ".git" / name)
    (dot / "index").symlink_to(private / ".git" / "index")
    return ALL_TOOLS


def core_worktree(root: Path, outside: Outside) -> Steps:
    """core.worktree makes a directory outside the root the working tree."""
    (outside.base / f"{SECRET}.txt").write_text("listed by name\n")
    committed(root)
    config(root, "core.worktree", str(outside.base))
    return ALL_TOOLS


def index_dotdot(root: Path, outside: Outside) -> Steps:
    """A crafted index entry `../outside/credentials`: diffing it reads that file."""
    committed(root)
    decoy = git(root, "hash-object", "-w", "--stdin", stdin=b"decoy\n").strip()
    own = git(root, "rev-parse", "HEAD:a.py").strip()
    escape = os.path.relpath(outside.secret_file, root)
    write_index(root / ".git" / "index", [("a.py", own), (escape, decoy), (f"a.py/../{escape}", decoy)])
    return ALL_TOOLS


def include_outside(root: Path, outside: Outside) -> Steps:
    """include.path pulls in a file of the user's; git quotes a bad value from it in its error."""
    settings = outside.base / "tool.ini"
    settings.write_text(f"[core]\n\tabbrev = {SECRET}\n")
    committed(root)
    config(root, "include.path", str(settings))
    return ALL_TOOLS


def submodule_gitfile(root: Path, outside: Outside) -> Steps:
    """A submodule whose gitfile names another repository; diff.submodule=diff prints its files."""
    private = private_repo(outside)
    committed(root)
    head = git(private, "rev-parse", "HEAD").strip()
    git(root, "update-index", "--add", "--cacheinfo", f"160000,{head},vendor")
    git(root, "commit", "-q", "-m", "vendor")
    (root / "vendor").mkdir()
    (root / "vendor" / ".git").write_text(f"gitdir: {private / '.git'}\n")
    config(root, "diff.submodule", "diff")
    config(root, "status.submoduleSummary", "true")
    return ALL_TOOLS


def worktree_symlinks(root: Path, outside: Outside) -> Steps:
    """Tracked files and folders replaced by symlinks to the user's files (git must not follow them)."""
    (outside.base / "settings.txt").write_text(f"{SECRET}\n")
    committed(root, {"a.py": "one\n", "keys.txt": "decoy\n", "conf/settings.txt": "decoy\n"})
    (root / "keys.txt").unlink()
    (root / "keys.txt").symlink_to(outside.secret_file)
    (root / "conf" / "settings.txt").unlink()
    (root / "conf").rmdir()
    (root / "conf").symlink_to(outside.base)
    (root / "more").symlink_to(outside.base)
    return [*ALL_TOOLS, ("git_diff", {"path": "keys.txt"}), ("git_diff", {"path": "conf/settings.txt"})]


EXECUTION: dict[str, Builder] = {
    "filter.clean via .gitattributes": filter_clean,
    "filter.process": filter_process,
    "core.attributesFile + filter/textconv": attributes_file,
    ".git/info/attributes + filter": info_attributes,
    "include.path of a root file": include_path,
    "includeIf of a root file": include_if,
    "gpg.program + log.showSignature": gpg_program,
    "gpg.ssh.program + log.showSignature": gpg_ssh_program,
    "gpg.x509.program + log.showSignature": gpg_x509_program,
    "core.fsmonitor": fsmonitor,
    "diff.external, diff driver command, textconv": diff_drivers,
    "pagers, editors, askpass, ssh, credential, alias": pagers_and_editors,
    "hooks and core.hooksPath": hooks,
    "embedded repository with its own config": submodule_config,
    "root laid out as a bare git dir": bare_root,
    "partial clone lazy fetch (uploadpack)": lazy_fetch,
    "partial clone lazy fetch (core.sshCommand)": lazy_fetch_ssh,
}

READS_OUTSIDE: dict[str, Builder] = {
    ".git gitfile to another repository": gitfile,
    ".git gitfile, relative path": gitfile_relative,
    ".git symlink to another repository": git_symlink,
    "commondir to another repository": commondir,
    "objects/info/alternates": alternates,
    "symlinked objects, packed-refs, index": symlinked_store,
    "core.worktree outside": core_worktree,
    "index entry with ..": index_dotdot,
    "include.path of an outside file": include_outside,
    "submodule gitfile to another repository": submodule_gitfile,
    "tracked paths replaced by symlinks": worktree_symlinks,
}
