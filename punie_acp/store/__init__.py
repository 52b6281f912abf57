"""Sessions that outlive the process: what was said and shown, kept as it happens.

`SessionStore` is the small Protocol the core talks to; `MemoryStore` keeps everything in this
process (tests, `punie ask`, `--session-store none`), `SqliteStore` keeps it in one SQLite file in
the user's state directory, written by one thread so the event loop never waits on the disk.
"""

from punie_acp.store.protocol import (
    Choice,
    Page,
    SessionRecord,
    SessionStore,
    StoredItem,
    StoreUnavailable,
    TitleSet,
    UserPrompt,
)

__all__ = [
    "Choice",
    "Page",
    "SessionRecord",
    "SessionStore",
    "StoreUnavailable",
    "StoredItem",
    "TitleSet",
    "UserPrompt",
    "open_store",
]


def open_store(setting: str) -> SessionStore:
    """The store a `session_store` setting names: a SQLite file, or 'none' for memory only."""
    from punie_acp.store.layout import store_path

    path = store_path(setting)
    if path is None:
        from punie_acp.store.memory import MemoryStore

        return MemoryStore()
    from punie_acp.store.sqlite import SqliteStore

    return SqliteStore(path)
