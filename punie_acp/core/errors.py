"""What the core's front door raises: expected failures, each with one line a person can act on.

The faces (`acp/agent.py`, `headless.py`) show the message as it is; they never need the
traceback, which the door writes to the log file for the unexpected kind (`TurnFailed`).
"""

from __future__ import annotations


class CoreError(Exception):
    """A request the core cannot honour; `str(error)` says what happened and what to do."""


class BadRequest(CoreError):
    """The request itself is wrong: a cwd that is not an absolute directory, an unknown mode."""


class SessionNotFound(CoreError):
    """No open session has this id (never opened, closed, or closed to make room)."""


class SessionBusy(CoreError):
    """The session is already running a prompt."""


class TooManySessions(CoreError):
    """Every open session is running a prompt and the bound on open sessions is reached."""


class ModelUnavailable(CoreError):
    """The model cannot be reached, found or loaded (a server not running, a model not downloaded)."""


class TurnFailed(CoreError):
    """Something unexpected broke the turn; the traceback is in the log file."""


class StoreUnavailable(CoreError):
    """The session store cannot be used (damaged, from a newer punie); the message names the file and the fix."""
