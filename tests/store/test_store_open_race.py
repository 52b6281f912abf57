"""Several punie processes opening one new store file at once: none may take it for a foreign file."""

from __future__ import annotations

import threading
from pathlib import Path

from punie_acp.store.formats import CURRENT, open_store_file


def test_stores_opened_at_once_on_a_new_file_all_open_it(tmp_path: Path) -> None:
    failures: list[BaseException] = []
    for attempt in range(25):
        path = tmp_path / f"sessions-{attempt}.db"
        start = threading.Barrier(6)

        def open_it(path: Path = path, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                open_store_file(path).close()
            except BaseException as exc:  # collected: a thread's exception would otherwise be lost
                failures.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        conn = open_store_file(path)
        assert int(conn.execute("PRAGMA user_version").fetchone()[0]) == CURRENT
        conn.close()
    assert failures == []
