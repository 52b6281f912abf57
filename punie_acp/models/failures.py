"""A model API failure (PydanticAI's `ModelAPIError` family) as one line a person can act on.

The OpenAI-compatible backend is the one that meets these: a server not started, a model
name it does not serve, a proxy in the way. The message names the server and says what to do.
The front door also uses it, naming the backend, for any backend that lets one through.
"""

from __future__ import annotations


def explain_model_failure(error: BaseException, server: str) -> str | None:
    """The message for an expected model failure, or None when `error` is not one."""
    from pydantic_ai.exceptions import (
        ModelAPIError,
        ModelAuthenticationError,
        ModelConnectionError,
        ModelHTTPError,
        ModelNotFoundError,
        ModelTimeoutError,
    )

    if not isinstance(error, ModelAPIError):
        return None
    where = f"the model server at {server}"
    if isinstance(error, ModelTimeoutError):
        return f"{where} did not answer in time; check that it is running and not overloaded."
    if isinstance(error, ModelConnectionError):
        return (
            f"Cannot reach {where} ({_root_cause(error)}). Start the server, "
            "or pass --model the URL of one that is running (http://host:port/v1[/model])."
        )
    status = error.status_code if isinstance(error, ModelHTTPError) else None
    if isinstance(error, ModelNotFoundError) or status == 404:
        return (
            f"{where} has no model {error.model_name!r} (HTTP 404). "
            "Pass --model http://host:port/v1/NAME with a model the server serves."
        )
    if isinstance(error, ModelAuthenticationError) or status in (401, 403):
        return f"{where} refused the request (HTTP {status or 'auth'}): it expects credentials punie does not send."
    detail = f"HTTP {status}: " if status is not None else ""
    return f"{where} failed: {detail}{_first_line(str(error))}"


def _root_cause(error: BaseException) -> str:
    """The innermost cause's text ('[Errno 111] Connection refused'), on one line."""
    seen: set[int] = set()
    cause: BaseException = error
    while id(cause) not in seen:
        seen.add(id(cause))
        if cause.__cause__ is not None:
            cause = cause.__cause__
        elif isinstance(cause, BaseExceptionGroup) and cause.exceptions:
            cause = cause.exceptions[0]  # e.g. each address a connect tried
        else:
            break
    text = cause.strerror if isinstance(cause, OSError) and cause.strerror else _first_line(str(cause))
    return text[:1].lower() + text[1:] if text else type(cause).__name__


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]
