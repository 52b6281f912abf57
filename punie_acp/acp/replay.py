"""A saved session's transcript as the `session/update`s `session/load` sends before it answers.

Tool calls and plans go through the same `UpdateMapper` as a live turn (one per prompt, as live),
so a reopened session shows what was shown: final status, content (diffs, text) and raw output.
Consecutive text (or thought) pieces are sent as one chunk: the same text in fewer messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import acp
from acp import schema

from punie_acp.acp.updates import UpdateMapper
from punie_acp.core.events import TextDelta, ThoughtDelta
from punie_acp.store import Choice, StoredItem, TitleSet, UserPrompt


def replay_updates(items: Sequence[StoredItem]) -> list[Any]:
    updates: list[Any] = []
    mapper = UpdateMapper()
    for item in _joined(items):
        if isinstance(item, UserPrompt):
            mapper = UpdateMapper()
            updates.append(acp.update_user_message_text(item.text))
        elif isinstance(item, TitleSet):
            updates.append(title_update(item.title))
        elif isinstance(item, Choice):
            if item.key == "mode":
                updates.append(mode_update(item.value))
        else:
            update = mapper.map(item)
            if update is not None:
                updates.append(update)
    return updates


def mode_update(mode_id: str) -> schema.CurrentModeUpdate:
    return schema.CurrentModeUpdate(session_update="current_mode_update", current_mode_id=mode_id)


def title_update(title: str) -> schema.SessionInfoUpdate:
    return schema.SessionInfoUpdate(session_update="session_info_update", title=title)


def _joined(items: Iterable[StoredItem]) -> Iterator[StoredItem]:
    pending: TextDelta | ThoughtDelta | None = None
    for item in items:
        if isinstance(item, TextDelta) and isinstance(pending, TextDelta):
            pending = TextDelta(pending.text + item.text)
        elif isinstance(item, ThoughtDelta) and isinstance(pending, ThoughtDelta):
            pending = ThoughtDelta(pending.text + item.text)
        else:
            if pending is not None:
                yield pending
            pending = item if isinstance(item, TextDelta | ThoughtDelta) else None
            if pending is None:
                yield item
    if pending is not None:
        yield pending
