"""The ACP face: implements the SDK's `Agent` protocol on top of the core."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from acp import RequestError, schema

from punie_acp.acp.capabilities import initialize_result
from punie_acp.acp.host import AcpEditorHost, ClientConnection, capabilities_of
from punie_acp.acp.prompt import prompt_to_text
from punie_acp.acp.sender import UpdateSender
from punie_acp.core.events import TurnEnded
from punie_acp.core.host import HostCapabilities
from punie_acp.core.modes import MODES
from punie_acp.core.session import Session, SessionError, SessionManager
from punie_acp.core.turn import TurnRunner
from punie_acp.models.base import ModelNotAvailable

log = logging.getLogger(__name__)


class PunieAgent:
    def __init__(self, runner: TurnRunner, sessions: SessionManager) -> None:
        self._runner = runner
        self._sessions = sessions
        self._conn: Any = None
        self._client_caps = HostCapabilities()

    def on_connect(self, conn: Any) -> None:
        self._conn = conn

    @property
    def _client(self) -> Any:
        if self._conn is None:
            raise RequestError.internal_error({"details": "no client connection"})
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
        raise RequestError(-32602, "punie runs locally and needs no authentication")

    async def new_session(
        self,
        cwd: str,
        additional_directories: list[str] | None = None,
        mcp_servers: list[Any] | None = None,
        **kwargs: Any,
    ) -> schema.NewSessionResponse:
        conn: ClientConnection = self._client
        caps = self._client_caps
        try:
            session = self._sessions.create(cwd, lambda sid: AcpEditorHost(conn, sid, caps))
        except SessionError as exc:
            raise RequestError(-32602, str(exc)) from None
        if mcp_servers:
            log.info("session %s: %d MCP servers offered; MCP is not supported yet", session.id, len(mcp_servers))
        self._runner.backend.start_loading()
        return schema.NewSessionResponse(session_id=session.id, modes=_mode_state(session))

    async def list_sessions(self, cwd: str | None = None, cursor: str | None = None, **kwargs: Any) -> Any:
        infos = [
            schema.SessionInfo(session_id=s.id, cwd=str(s.root), updated_at=s.updated_at.isoformat())
            for s in self._sessions.all()
            if cwd is None or str(s.root) == cwd
        ]
        return schema.ListSessionsResponse(sessions=infos)

    async def set_session_mode(self, mode_id: str, session_id: str, **kwargs: Any) -> schema.SetSessionModeResponse:
        session = self._session(session_id)
        try:
            session.set_mode(mode_id)
        except SessionError as exc:
            raise RequestError(-32602, str(exc)) from None
        await self._client.session_update(
            session_id=session_id,
            update=schema.CurrentModeUpdate(session_update="current_mode_update", current_mode_id=mode_id),
        )
        return schema.SetSessionModeResponse()

    async def close_session(self, session_id: str, **kwargs: Any) -> schema.CloseSessionResponse:
        if self._sessions.close(session_id) is None:
            raise RequestError.resource_not_found(session_id)
        self._runner.backend.forget_session(session_id)
        return schema.CloseSessionResponse()

    async def prompt(self, prompt: list[Any], session_id: str, **kwargs: Any) -> schema.PromptResponse:
        session = self._session(session_id)
        text = prompt_to_text(prompt)
        client = self._client

        async def send(update: Any) -> None:
            await client.session_update(session_id=session_id, update=update)

        sender = UpdateSender(send)
        if isinstance(session.host, AcpEditorHost):
            session.host.before_asking = sender.flush
        scope = anyio.CancelScope()
        try:
            session.begin_turn(scope)
        except SessionError as exc:
            raise RequestError(-32600, str(exc)) from None
        ended: TurnEnded | None = None
        failure: str | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(sender.run)
                with scope:
                    try:
                        ended = await self._runner.run(session, text, sender.push)
                    except ModelNotAvailable as exc:
                        failure = f"model not available: {exc}"
                # Updates pushed before a cancel still reach the client, before the response.
                await sender.close()
        finally:
            session.end_turn()
        if failure is not None:
            raise RequestError(-32603, failure)
        if ended is None or session.cancel_requested:
            return schema.PromptResponse(stop_reason="cancelled")
        return schema.PromptResponse(stop_reason=ended.stop_reason)

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        session = self._sessions.find(session_id)
        if session is not None:
            session.cancel()

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RequestError.method_not_found(f"_{method}")

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None

    def _session(self, session_id: str) -> Session:
        session = self._sessions.find(session_id)
        if session is None:
            raise RequestError.resource_not_found(session_id)
        return session


def _mode_state(session: Session) -> schema.SessionModeState:
    return schema.SessionModeState(
        current_mode_id=session.mode_id,
        available_modes=[schema.SessionMode(id=m.id, name=m.name, description=m.description) for m in MODES.values()],
    )
