"""The ACP face: maps protocol requests to the core's front door (`CoreService`) and back.

It knows nothing about models or turn lifecycles. What it adds is wire work only: the client's
capabilities, an `UpdateSender` per prompt (wire pacing), and core errors as JSON-RPC errors
whose message is the core's own one-line explanation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import acp
import anyio
from acp import RequestError, schema

from punie_acp.acp import config as panel
from punie_acp.acp.capabilities import AUTH_METHOD_ID, initialize_result
from punie_acp.acp.host import AcpEditorHost, capabilities_of
from punie_acp.acp.prompt import prompt_to_text
from punie_acp.acp.replay import replay_updates, title_update
from punie_acp.acp.sender import UpdateSender
from punie_acp.acp.updates import Update
from punie_acp.core.errors import (
    BadRequest,
    CoreError,
    SessionBusy,
    SessionNotFound,
    TooManySessions,
)
from punie_acp.core.events import TurnEnded
from punie_acp.core.host import HostCapabilities
from punie_acp.core.modes import MODES
from punie_acp.core.service import CoreService
from punie_acp.core.session import Session

log = logging.getLogger(__name__)

# `session/delete` as an extension method while the SDK (0.12.1) does not route the standard one.
DELETE_EXTENSION = "punie/session/delete"


class PunieAgent:
    def __init__(self, core: CoreService) -> None:
        self._core = core
        self._conn: acp.Client | None = None
        self._client_caps = HostCapabilities()
        self._background: set[asyncio.Task[None]] = set()

    def on_connect(self, conn: acp.Client) -> None:
        self._conn = conn

    @property
    def _client(self) -> acp.Client:
        if self._conn is None:
            raise _with_message(RequestError.internal_error(), "punie has no client connection yet")
        return self._conn

    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: schema.ClientCapabilities | None = None,
        client_info: schema.Implementation | None = None,
        **kwargs: Any,
    ) -> schema.InitializeResponse:
        self._client_caps = capabilities_of(client_capabilities)
        log.info("initialize from %s (protocol %s)", client_info.name if client_info else "?", protocol_version)
        return schema.InitializeResponse.model_validate(initialize_result())

    def adopt_initialize(self, params: dict[str, Any]) -> None:
        """Take the client's capabilities from an `initialize` answered before the SDK was loaded."""
        request = schema.InitializeRequest.model_validate(params)
        self._client_caps = capabilities_of(request.client_capabilities)

    async def authenticate(self, method_id: str, **kwargs: Any) -> schema.AuthenticateResponse:
        # The one method punie offers is honest: there is nothing to sign in to, so it succeeds at once.
        if method_id != AUTH_METHOD_ID:
            raise _with_message(
                RequestError.invalid_params(),
                f"punie runs locally and needs no authentication; its one auth method is {AUTH_METHOD_ID!r}",
            )
        return schema.AuthenticateResponse()

    async def new_session(
        self,
        cwd: str,
        additional_directories: list[str] | None = None,
        mcp_servers: list[Any] | None = None,
        **kwargs: Any,
    ) -> schema.NewSessionResponse:
        try:
            await self._core.check_store()  # a damaged store is said at once, not after the first prompt
            session = self._core.open_session(cwd, self._host_for())
            await self._core.check_store()  # saved before the answer: a session id given out is kept
            if mcp_servers:  # PydanticAI runs them; without servers the answer does not wait for it
                await self._core.turn_modules_ready()
        except CoreError as exc:
            raise request_error(exc) from None
        self.attach_mcp(session.id, mcp_servers)
        self.announce_commands(session.id)
        return schema.NewSessionResponse(
            session_id=session.id,
            modes=_mode_state(session),
            config_options=panel.wire_options(self._core.config_options(session.id)),
        )

    # Agent panel: MCP servers, slash commands, config options, usage ----------------------

    def attach_mcp(self, session_id: str, mcp_servers: list[Any] | None) -> None:
        """Start the editor's MCP servers for a session (session/new and session/load call this)."""
        self._core.attach_mcp(session_id, panel.mcp_specs(mcp_servers, session_id))

    def announce_commands(self, session_id: str) -> None:
        """Send the slash commands once the session/new (or load) response has gone out."""
        client = self._client

        async def send() -> None:
            for _ in range(5):  # let the response be written first: the client must know the session
                await asyncio.sleep(0)
            try:
                await client.session_update(session_id=session_id, update=panel.commands_update())
            except Exception:
                log.info("session %s: could not send the slash commands", session_id, exc_info=True)
            # The session is answered: now import what its first prompt needs (core/preload.py).
            self._core.preload_turn_modules()

        task = asyncio.get_running_loop().create_task(send())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def set_config_option(
        self, config_id: str, session_id: str, value: str | bool, **kwargs: Any
    ) -> schema.SetSessionConfigOptionResponse:
        try:
            before = self._core.session(session_id).mode_id
            options = self._core.set_config_option(session_id, config_id, value)
            after = self._core.session(session_id).mode_id
        except CoreError as exc:
            raise request_error(exc) from None
        if after != before:  # clients that show modes, not config options, follow the change too
            await self._client.session_update(
                session_id=session_id,
                update=schema.CurrentModeUpdate(session_update="current_mode_update", current_mode_id=after),
            )
        return schema.SetSessionConfigOptionResponse(config_options=panel.wire_options(options))

    async def _send_usage(self, session_id: str) -> None:
        try:
            used, size = self._core.context_usage(session_id)
            await self._client.session_update(session_id=session_id, update=panel.usage_update(used, size))
        except Exception:  # a closed session, a gone client: usage is informative only
            log.info("session %s: usage not sent", session_id, exc_info=True)

    # Saved sessions (see core/keeper.py) --------------------------------------------------

    def _host_for(self) -> Callable[[str], AcpEditorHost]:
        conn, caps = self._client, self._client_caps
        return lambda session_id: AcpEditorHost(conn, session_id, caps)

    async def load_session(
        self,
        cwd: str,
        session_id: str,
        mcp_servers: list[Any] | None = None,
        additional_directories: list[str] | None = None,
        **kwargs: Any,
    ) -> schema.LoadSessionResponse:
        """Replay the whole conversation as updates, then answer (ACP: the history comes first)."""
        client = self._client
        try:
            session, transcript = await self._core.load_session(session_id, cwd, self._host_for())
        except CoreError as exc:
            raise request_error(exc) from None
        for update in replay_updates(transcript):
            await client.session_update(session_id=session.id, update=update)
        self.attach_mcp(session.id, mcp_servers)
        self.announce_commands(session.id)
        return schema.LoadSessionResponse(
            modes=_mode_state(session), config_options=panel.wire_options(self._core.config_options(session.id))
        )

    async def resume_session(
        self,
        session_id: str,
        cwd: str,
        additional_directories: list[str] | None = None,
        mcp_servers: list[Any] | None = None,
        **kwargs: Any,
    ) -> schema.ResumeSessionResponse:
        try:
            session = await self._core.resume_session(session_id, cwd, self._host_for())
        except CoreError as exc:
            raise request_error(exc) from None
        self.attach_mcp(session.id, mcp_servers)
        self.announce_commands(session.id)
        return schema.ResumeSessionResponse(
            modes=_mode_state(session), config_options=panel.wire_options(self._core.config_options(session.id))
        )

    async def list_sessions(
        self, cwd: str | None = None, cursor: str | None = None, **kwargs: Any
    ) -> schema.ListSessionsResponse:
        try:
            page = await self._core.list_sessions(cwd, cursor)
        except CoreError as exc:
            raise request_error(exc) from None
        infos = [
            schema.SessionInfo(session_id=r.id, cwd=r.cwd, title=r.title, updated_at=r.updated_at.isoformat())
            for r in page.sessions
        ]
        return schema.ListSessionsResponse(sessions=infos, next_cursor=page.next_cursor)

    async def delete_session(self, session_id: str, **kwargs: Any) -> schema.DeleteSessionResponse:
        """`session/delete` (ACP schema 1.23); SDK 0.12.1 does not route it, so it is reached as
        the extension method `_punie/session/delete` until the SDK does."""
        try:
            await self._core.delete_session(session_id)
        except CoreError as exc:
            raise request_error(exc) from None
        return schema.DeleteSessionResponse()

    async def set_session_mode(self, mode_id: str, session_id: str, **kwargs: Any) -> schema.SetSessionModeResponse:
        try:
            self._core.set_mode(session_id, mode_id)
        except CoreError as exc:
            raise request_error(exc) from None
        await self._client.session_update(
            session_id=session_id,
            update=schema.CurrentModeUpdate(session_update="current_mode_update", current_mode_id=mode_id),
        )
        await self._client.session_update(
            session_id=session_id, update=panel.config_update(self._core.config_options(session_id))
        )
        return schema.SetSessionModeResponse()

    async def close_session(self, session_id: str, **kwargs: Any) -> schema.CloseSessionResponse:
        try:
            self._core.close_session(session_id)
        except CoreError as exc:
            raise request_error(exc) from None
        return schema.CloseSessionResponse()

    async def prompt(self, prompt: list[Any], session_id: str, **kwargs: Any) -> schema.PromptResponse:
        text = prompt_to_text(prompt)
        client = self._client

        async def send(update: Update) -> None:
            await client.session_update(session_id=session_id, update=update)

        sender = UpdateSender(send)
        try:
            host = self._core.session(session_id).host
        except CoreError as exc:
            raise request_error(exc) from None
        if isinstance(host, AcpEditorHost):
            # A permission request must not overtake the queued tool-call updates it refers to.
            host.before_asking = sender.flush

        async def titled(title: str) -> None:
            await client.session_update(session_id=session_id, update=title_update(title))

        outcome: TurnEnded | CoreError
        async with anyio.create_task_group() as tg:
            tg.start_soon(sender.run)
            try:
                outcome = await self._core.run_turn(session_id, text, sender.push, on_titled=titled)
            except CoreError as exc:
                outcome = exc
            # Updates pushed before the end (a cancel, a failure) reach the client before the response.
            await sender.close()
        if isinstance(outcome, CoreError):
            raise request_error(outcome)
        await self._send_usage(session_id)
        return schema.PromptResponse(stop_reason=outcome.stop_reason)

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        self._core.cancel(session_id)

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == DELETE_EXTENSION:
            session_id = params.get("sessionId")
            if not isinstance(session_id, str):
                raise _with_message(RequestError.invalid_params(), "sessionId (a string) is required")
            await self.delete_session(session_id)
            return {}
        raise RequestError.method_not_found(f"_{method}")

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None


def request_error(error: CoreError) -> RequestError:
    """A core error as the JSON-RPC error an editor shows: the named code, the core's own message."""
    if isinstance(error, SessionNotFound):
        named = RequestError.resource_not_found()
    elif isinstance(error, BadRequest):
        named = RequestError.invalid_params()
    elif isinstance(error, SessionBusy | TooManySessions):
        named = RequestError.invalid_request()
    else:  # ModelUnavailable, TurnFailed: the server cannot do it now
        named = RequestError.internal_error()
    return _with_message(named, str(error))


def _with_message(error: RequestError, message: str) -> RequestError:
    """The SDK's named constructors fix a generic message ("Invalid params"); an editor shows the
    message, so it carries the explanation a person can act on instead."""
    error.args = (message,)
    return error


def _mode_state(session: Session) -> schema.SessionModeState:
    return schema.SessionModeState(
        current_mode_id=session.mode_id,
        available_modes=[schema.SessionMode(id=m.id, name=m.name, description=m.description) for m in MODES.values()],
    )
