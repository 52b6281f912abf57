"""One language server for one project root: started in the background, kept fresh, restarted once.

Freshness: the server holds a copy of every document punie opened in it (`didOpen`), and
punie sends every change it makes (`didChange` with a new version, `didSave`). Before a request
about a file, the file's current text on disk is compared with that copy and sent when it
differs, so an edit behind the agent's back (the user's editor, `git checkout`) is never
answered from stale text. Changes the root's watcher sees go out as `didChangeWatchedFiles`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from lsprotocol import types as lsp

from punie_acp.tools.checker_scope import TooManyFiles, escaping_links
from punie_acp.tools.lsp.connection import Connection, RequestFailed, ServerGone
from punie_acp.tools.lsp.positions import path_to_uri
from punie_acp.tools.lsp.servers import Launch, ServerSpec, ServerUnavailable, language_id, prepare_launch

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0
# Seconds a request may take; PUNIE_LSP_REQUEST_TIMEOUT lowers it (the tests' silent server).
REQUEST_TIMEOUT = float(os.environ.get("PUNIE_LSP_REQUEST_TIMEOUT", "20") or 20)
MAX_PUBLISHED_FILES = 500
MAX_DIAGNOSTICS_PER_FILE = 200


_background: set[asyncio.Task[None]] = set()  # closing connections, kept referenced until done


class CodeIntelError(Exception):
    """A request could not be answered; one line for the model and the user."""


@dataclass
class _Document:
    version: int
    text: str


def _client_capabilities() -> lsp.ClientCapabilities:
    return lsp.ClientCapabilities(
        general=lsp.GeneralClientCapabilities(position_encodings=[lsp.PositionEncodingKind.Utf16]),
        workspace=lsp.WorkspaceClientCapabilities(
            configuration=True,
            did_change_watched_files=lsp.DidChangeWatchedFilesClientCapabilities(dynamic_registration=True),
            symbol=lsp.WorkspaceSymbolClientCapabilities(),
        ),
        text_document=lsp.TextDocumentClientCapabilities(
            synchronization=lsp.TextDocumentSyncClientCapabilities(did_save=True),
            diagnostic=lsp.DiagnosticClientCapabilities(),
            publish_diagnostics=lsp.PublishDiagnosticsClientCapabilities(version_support=True),
            hover=lsp.HoverClientCapabilities(content_format=[lsp.MarkupKind.PlainText, lsp.MarkupKind.Markdown]),
            document_symbol=lsp.DocumentSymbolClientCapabilities(hierarchical_document_symbol_support=True),
            definition=lsp.DefinitionClientCapabilities(link_support=True),
            implementation=lsp.ImplementationClientCapabilities(link_support=True),
            call_hierarchy=lsp.CallHierarchyClientCapabilities(),
        ),
    )


class LanguageServer:
    def __init__(self, spec: ServerSpec, root: Path) -> None:
        self.spec = spec
        self.root = root
        self.capabilities: dict[str, Any] = {}
        self.published: dict[str, tuple[int | None, list[Any]]] = {}
        self._published_event = asyncio.Event()
        self._conn: Connection | None = None
        self._launch: Launch | None = None
        self._documents: dict[Path, _Document] = {}
        self._dirty: set[Path] = set()  # open documents the watcher saw change on disk
        self.known: dict[Path, list[Any]] = {}  # the diagnostics last pulled per open document
        self._starting: asyncio.Task[Connection] | None = None
        self._crashes = 0
        self._closed = False
        self.failure: str | None = None  # set once it cannot serve any more (not installed, crashed twice)
        self._loop = asyncio.get_running_loop()

    # Lifecycle ------------------------------------------------------------------------

    def start_soon(self) -> None:
        """Begin starting in the background (the first call then waits less, or not at all)."""
        if self._starting is None and self.failure is None and not self._closed:
            self._starting = asyncio.get_running_loop().create_task(self._start())

    async def connection(self) -> Connection:
        if self._conn is not None and self._conn.alive:
            return self._conn
        if self._conn is not None and not self._conn.alive:
            self._crashed(self._conn.why_closed)
        if self.failure is not None:
            raise CodeIntelError(self.failure)
        self.start_soon()
        assert self._starting is not None
        try:
            return await asyncio.shield(self._starting)
        except (ServerUnavailable, CodeIntelError) as exc:
            self.failure = str(exc)
            raise CodeIntelError(str(exc)) from None
        except ServerGone as exc:
            self._crashed(str(exc))
            return await self.connection()

    def _crashed(self, why: str) -> None:
        """Forget the dead connection; restart once, then give up with a clear message."""
        self._conn = None
        self._starting = None
        self._documents.clear()
        self._dirty.clear()
        self.known.clear()
        self.published.clear()
        self._crashes += 1
        log.warning("%s for %s stopped: %s (crash %d)", self.spec.name, self.root, why, self._crashes)
        if self._crashes > 1 and self.failure is None:
            self.failure = (
                f"{self.spec.name} stopped twice ({why}); code intelligence is off for this project until punie "
                "restarts. grep and ty_check still work"
            )

    async def _start(self) -> Connection:
        if self._launch is None:
            self._launch = await anyio.to_thread.run_sync(prepare_launch, self.spec, self.root)
        launch = self._launch
        conn = Connection(self.spec.name, self._on_notification)
        self._register_handlers(conn, launch)
        cwd = launch.scratch / "project" if launch.scratch else self.root
        try:
            await conn.start(launch.argv, cwd, launch.env)
        except OSError as exc:
            raise ServerUnavailable(
                f"{self.spec.name} could not be started ({exc.strerror or exc}); install it or fix language_servers"
            ) from None
        try:
            params = lsp.InitializeParams(
                capabilities=_client_capabilities(),
                process_id=None,
                root_uri=path_to_uri(self.root),
                workspace_folders=[lsp.WorkspaceFolder(uri=path_to_uri(self.root), name=self.root.name or "root")],
                initialization_options={"settings": launch.settings} if launch.settings else None,
                client_info=lsp.ClientInfo(name="punie"),
            )
            result = await conn.request("initialize", params, timeout=START_TIMEOUT)
            caps = result.get("capabilities") if isinstance(result, dict) else None
            self.capabilities = caps if isinstance(caps, dict) else {}
            conn.notify("initialized", lsp.InitializedParams())
        except (TimeoutError, RequestFailed) as exc:
            await conn.aclose(polite=False)
            raise ServerGone(f"{self.spec.name} did not initialize ({exc or 'timed out'})") from None
        except BaseException:
            await conn.aclose(polite=False)
            raise
        self._conn = conn
        return conn

    def _register_handlers(self, conn: Connection, launch: Launch) -> None:
        client = conn.client

        @client.feature(lsp.WORKSPACE_CONFIGURATION)  # type: ignore[untyped-decorator]
        def configuration(params: Any) -> list[Any]:
            items = getattr(params, "items", None) or (params.get("items") if isinstance(params, dict) else None)
            return [launch.settings for _ in (items if isinstance(items, list | tuple) else [])[:100]]

        @client.feature(lsp.CLIENT_REGISTER_CAPABILITY)  # type: ignore[untyped-decorator]
        def register(params: Any) -> None:
            return None

        @client.feature(lsp.CLIENT_UNREGISTER_CAPABILITY)  # type: ignore[untyped-decorator]
        def unregister(params: Any) -> None:
            return None

        @client.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CREATE)  # type: ignore[untyped-decorator]
        def progress(params: Any) -> None:
            return None

    def _on_notification(self, method: str, params: Any) -> None:
        if method != lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS or not isinstance(params, dict):
            return
        uri, items, version = params.get("uri"), params.get("diagnostics"), params.get("version")
        if not isinstance(uri, str) or not isinstance(items, list):
            return
        if uri not in self.published and len(self.published) >= MAX_PUBLISHED_FILES:
            return  # a flood of files: keep what we have
        self.published[uri] = (version if isinstance(version, int) else None, items[:MAX_DIAGNOSTICS_PER_FILE])
        self._published_event.set()

    def orphaned(self) -> bool:
        return self._loop.is_closed()

    def kill(self) -> None:
        """Stop the process now without talking to it (its event loop is gone)."""
        self._closed = True
        self.failure = self.failure or f"{self.spec.name} was shut down"
        if self._conn is not None:
            self._conn.kill()
        if self._launch is not None and self._launch.scratch is not None:
            shutil.rmtree(self._launch.scratch, ignore_errors=True)

    def refuse(self, why: str) -> None:
        """Stop serving for good (e.g. a link out of the root appeared): later calls fail with `why`."""
        if self.failure is None:
            log.warning("%s for %s: %s", self.spec.name, self.root, why)
            self.failure = why
            conn, self._conn = self._conn, None
            if conn is not None:
                task = asyncio.get_running_loop().create_task(conn.aclose(polite=False))
                _background.add(task)
                task.add_done_callback(_background.discard)

    async def aclose(self) -> None:
        self._closed = True
        self.failure = self.failure or f"{self.spec.name} was shut down"
        starting, self._starting = self._starting, None
        conn, self._conn = self._conn, None
        if conn is None and starting is not None:
            starting.cancel()
            try:
                conn = await starting
            except BaseException:
                conn = None
        if conn is not None:
            await conn.aclose()
        if self._launch is not None and self._launch.scratch is not None:
            shutil.rmtree(self._launch.scratch, ignore_errors=True)

    # Documents ------------------------------------------------------------------------

    async def sync(self, path: Path, text: str, *, saved: bool = False) -> int:
        """Make the server's copy of `path` equal `text` (open or change it); returns its version."""
        conn = await self.connection()
        uri = path_to_uri(path)
        doc = self._documents.get(path)
        if doc is None:
            doc = self._documents[path] = _Document(1, text)
            item = lsp.TextDocumentItem(uri=uri, language_id=language_id(path), version=1, text=text)
            conn.notify(lsp.TEXT_DOCUMENT_DID_OPEN, lsp.DidOpenTextDocumentParams(text_document=item))
        elif doc.text != text:
            doc.version += 1
            doc.text = text
            change = lsp.TextDocumentContentChangeWholeDocument(text=text)
            ident = lsp.VersionedTextDocumentIdentifier(uri=uri, version=doc.version)
            conn.notify(
                lsp.TEXT_DOCUMENT_DID_CHANGE,
                lsp.DidChangeTextDocumentParams(text_document=ident, content_changes=[change]),
            )
        if saved:
            conn.notify(
                lsp.TEXT_DOCUMENT_DID_SAVE,
                lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)),
            )
        return doc.version

    async def refresh(self, read: Callable[[Path], str]) -> None:
        """Send the disk text of open documents the watcher saw change (closed when they are gone)."""
        dirty, self._dirty = self._dirty, set()
        for path in dirty:
            try:
                text = await anyio.to_thread.run_sync(read, path)
            except (OSError, ValueError):
                await self.close_document(path)
                continue
            await self.sync(path, text)

    async def close_document(self, path: Path) -> None:
        self.known.pop(path, None)
        if self._documents.pop(path, None) is not None and self._conn is not None and self._conn.alive:
            ident = lsp.TextDocumentIdentifier(uri=path_to_uri(path))
            self._conn.notify(lsp.TEXT_DOCUMENT_DID_CLOSE, lsp.DidCloseTextDocumentParams(text_document=ident))

    def version(self, path: Path) -> int | None:
        doc = self._documents.get(path)
        return doc.version if doc is not None else None

    def is_open(self, path: Path) -> bool:
        return path in self._documents

    def open_paths(self) -> list[Path]:
        return list(self._documents)

    def files_changed(self, changes: list[tuple[Path, int]]) -> None:
        """Changes on disk seen by the root's watcher (`FileChangeType` values) -> `didChangeWatchedFiles`."""
        conn = self._conn
        if conn is None or not conn.alive or not changes:
            return
        self._dirty.update(path for path, _ in changes if path in self._documents)
        events = [lsp.FileEvent(uri=path_to_uri(path), type=lsp.FileChangeType(kind)) for path, kind in changes]
        with contextlib.suppress(ServerGone, OSError):  # gone: the restart re-reads everything anyway
            conn.notify(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES, lsp.DidChangeWatchedFilesParams(changes=events))

    # Requests -------------------------------------------------------------------------

    async def request(self, method: str, params: Any, timeout: float = REQUEST_TIMEOUT) -> Any:  # noqa: ASYNC109
        """The raw result; a crash mid-request restarts the server once (the caller re-syncs and asks again)."""
        conn = await self.connection()
        await self._still_confined()
        try:
            return await conn.request(method, params, timeout)
        except TimeoutError:
            raise CodeIntelError(f"{self.spec.name} did not answer {method} within {timeout:.0f} s") from None
        except RequestFailed as exc:
            raise CodeIntelError(str(exc)) from None
        except (ServerGone, BrokenPipeError) as exc:
            self._crashed(str(exc))
            raise Restarted(str(exc)) from None

    async def _still_confined(self) -> None:
        """ty follows links when resolving imports: before each answer, none may lead out of the root.

        The watcher reports a new link too, but only after its debounce; this scan (milliseconds: it
        skips what no import reaches) closes that window. Other servers are the user's choice.
        """
        if not self.spec.is_ty:
            return
        try:
            links = await anyio.to_thread.run_sync(escaping_links, self.root, self.root)
        except TooManyFiles as exc:
            self.refuse(f"ty server stopped: {exc}")
            raise CodeIntelError(str(self.failure)) from None
        if links:
            shown = ", ".join(str(link.relative_to(self.root)) for link in links[:3] if self.root in link.parents)
            self.refuse(
                f"ty server stopped: {shown or links[0]} is a link leading outside the project root, which ty would"
                " follow; remove the link (grep still works)"
            )
            raise CodeIntelError(str(self.failure))

    def supports(self, capability: str) -> bool:
        value = self.capabilities.get(capability)
        return value is not None and value is not False

    async def wait_published(self, uri: str, version: int, timeout: float) -> list[Any] | None:  # noqa: ASYNC109
        """Pushed diagnostics for `uri` at `version` (servers without pull diagnostics)."""
        with anyio.move_on_after(timeout):
            while True:
                got = self.published.get(uri)
                if got is not None and (got[0] is None or got[0] >= version):
                    return got[1]
                self._published_event.clear()
                await self._published_event.wait()
        return None


class Restarted(Exception):
    """The server died during the request; it will be restarted (once) on the next use."""
