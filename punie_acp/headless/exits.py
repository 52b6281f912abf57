"""`punie ask`'s exit status: scripts tell success, refusal, cancel and failure apart."""

from __future__ import annotations

from punie_acp.core.errors import BadRequest, CoreError, ModelUnavailable, StoreUnavailable
from punie_acp.core.events import StopReason

OK = 0  # the turn ended normally
FAILED = 1  # the turn broke, or stopped early (token or request limit)
USAGE = 2  # a bad flag or setting, an unusable model or cwd: nothing ran
REFUSED = 3  # an edit or command was refused (answered no, nobody to ask, or the mode), or the model refused
CANCELLED = 130  # Ctrl-C, or a permission prompt cancelled (as a shell reports SIGINT)


def for_error(error: CoreError) -> int:
    return USAGE if isinstance(error, BadRequest | ModelUnavailable | StoreUnavailable) else FAILED


def for_turn(stop_reason: StopReason, refusals: int) -> int:
    if stop_reason == "cancelled":
        return CANCELLED
    if stop_reason in ("max_tokens", "max_turn_requests"):
        return FAILED
    if stop_reason == "refusal" or refusals:
        return REFUSED
    return OK
