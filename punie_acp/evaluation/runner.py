"""Runs suites through the core's front door, the same path as `punie serve` and `punie ask`.

Every case gets a fresh session on a fresh copy of its suite's fixture, a host that allows
edits and commands (inside that copy: the workspace confines the tools to it), and no saved
state: sessions are kept in memory only and no KV cache is written to disk. Up to `jobs` cases
run at once; the mlx backend serialises its model work on one thread, so more jobs only
overlap the tools, and each case is still timed from its own prompt.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from punie_acp.config import Settings
from punie_acp.core.errors import CoreError
from punie_acp.core.events import TurnEnded
from punie_acp.core.host import LocalHost
from punie_acp.core.service import CoreService
from punie_acp.evaluation.aftercheck import after_checks
from punie_acp.evaluation.counting import CountingBackend
from punie_acp.evaluation.fixture import Fixture, discard, scan
from punie_acp.evaluation.scoring import Observed, passed, score, summarize
from punie_acp.evaluation.suite import Case, Suite
from punie_acp.evaluation.transcript import Recorder, limit_hit, loop_guard_hit
from punie_acp.models.base import ModelBackend
from punie_acp.tools.registry import default_tools

log = logging.getLogger(__name__)

CaseDone = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class RunOptions:
    jobs: int = 1
    case_timeout: float = 600.0


def eval_settings(settings: Settings) -> Settings:
    """The user's settings, minus what would leave traces: no session store, no saved KV caches."""
    return dataclasses.replace(settings, session_store="none", prompt_cache_bytes=0)


async def _noop(_: str) -> None:
    return None


class EvalRun:
    def __init__(self, backend: ModelBackend, settings: Settings, options: RunOptions) -> None:
        self._counting = CountingBackend(backend)
        self._settings = settings
        self._options = options
        self._core = CoreService(self._counting, settings, default_tools(settings.tool_style))
        # Edits and commands are allowed: the session's root is the case's own copy.
        self._host = LocalHost(policy="allow_once")

    async def run(self, suites: Sequence[Suite], on_case: CaseDone | None = None) -> list[dict[str, Any]]:
        """One record per suite: its cases (in suite order) and their summary."""
        self._core.start()
        # Loading the model is not part of any case's time.
        await self._counting.ensure_ready(_noop)
        fixtures = [await anyio.to_thread.run_sync(scan, s.fixture, s.files) for s in suites]
        results: dict[tuple[int, int], dict[str, Any]] = {}
        limiter = anyio.CapacityLimiter(max(1, self._options.jobs))

        async def one(si: int, ci: int) -> None:
            async with limiter:
                suite = suites[si]
                record = await self._case(fixtures[si], suite.cases[ci])
            results[si, ci] = record
            if on_case is not None:
                await on_case(suite.name, record)

        try:
            async with anyio.create_task_group() as group:
                for si, suite in enumerate(suites):
                    for ci in range(len(suite.cases)):
                        group.start_soon(one, si, ci)
        finally:
            await self._core.aclose()
        out = []
        for si, suite in enumerate(suites):
            cases = [results[si, ci] for ci in range(len(suite.cases))]
            out.append(
                {"name": suite.name, "description": suite.description, "file": str(suite.path)}
                | {"cases": cases, "summary": summarize(cases)}
            )
        return out

    async def _case(self, fixture: Fixture, case: Case) -> dict[str, Any]:
        root = await anyio.to_thread.run_sync(fixture.copy, case.files)
        try:
            return await self._in(root, case)
        finally:
            with anyio.CancelScope(shield=True):  # an interrupted run leaves no copy behind either
                await anyio.to_thread.run_sync(discard, root)

    async def _in(self, root: Path, case: Case) -> dict[str, Any]:
        recorder = Recorder()
        try:
            session = self._core.open_session(str(root), lambda _sid: self._host)
        except CoreError as exc:  # the fixture's own [tool.punie] table is bad, say
            recorder.ended(None, str(exc))
            return _record(case, recorder, Outcome(None, str(exc), False, 0, 0.0), None, [])
        try:
            outcome = await self._turn(session.id, case, recorder)
            recorder.ended(outcome.ended, outcome.error)
            after_ok, after = await after_checks(root, case)
        finally:
            self._core.close_session(session.id)
        return _record(case, recorder, outcome, after_ok, after)

    async def _turn(self, session_id: str, case: Case, recorder: Recorder) -> Outcome:
        ended: TurnEnded | None = None
        error: str | None = None
        timed_out = False
        async with anyio.create_task_group() as group:

            async def watchdog() -> None:
                nonlocal timed_out
                await anyio.sleep(self._options.case_timeout)
                timed_out = True
                self._core.cancel(session_id)

            group.start_soon(watchdog)
            try:
                ended = await self._core.run_turn(session_id, case.prompt, recorder.emit)
            except CoreError as exc:
                error = str(exc)
            group.cancel_scope.cancel()
        if timed_out:
            error = f"timed out after {self._options.case_timeout:g} s"
        requests = self._counting.requests.pop(session_id, 0)
        return Outcome(ended, error, timed_out, requests, recorder.elapsed())


@dataclass(frozen=True)
class Outcome:
    ended: TurnEnded | None
    error: str | None
    timed_out: bool
    requests: int
    total_s: float

    @property
    def stop(self) -> str:
        if self.timed_out:
            return "timeout"
        if self.error is not None or self.ended is None:
            return "error"
        return self.ended.stop_reason


def _record(
    case: Case, recorder: Recorder, outcome: Outcome, after_ok: bool | None, after: list[dict[str, object]]
) -> dict[str, Any]:
    seen = Observed(
        calls=recorder.calls,
        answer=recorder.answer,
        requests=outcome.requests,
        stop_reason=outcome.stop,
        loop_guard=loop_guard_hit(outcome.ended),
        after_ok=after_ok,
    )
    checks = score(case, seen)
    metrics = {
        "requests": seen.requests,
        "tool_calls": len(recorder.calls),
        "first_tool": recorder.calls[0][0] if recorder.calls else None,
        "loop_guard": seen.loop_guard,
        "limit_hit": limit_hit(outcome.ended),
        "stop_reason": outcome.stop,
        "ttft_s": recorder.first_output,
        "total_s": outcome.total_s,
        "input_tokens": recorder.input_tokens,
        "output_tokens": recorder.output_tokens,
    }
    return {
        "id": case.id,
        "prompt": case.prompt,
        "expect": case.expect,
        "passed": passed(checks),
        "checks": checks,
        "metrics": metrics,
        "after": after,
        "error": outcome.error,
        "answer": recorder.answer,
        "transcript": recorder.entries,
    }
