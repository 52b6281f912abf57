"""The opaque `session/list` cursor: where the previous page ended (updated_at, id).

A client may send anything back; a cursor that does not decode to what this module made is
refused with `ValueError`, never passed on to a query as it is.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

_MAX_LEN = 512


def make_cursor(updated_at: datetime, session_id: str) -> str:
    raw = json.dumps([updated_at.isoformat(), session_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def read_cursor(cursor: str) -> tuple[datetime, str]:
    if len(cursor) > _MAX_LEN:
        raise ValueError("the cursor is not one punie made")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, session_id = json.loads(raw)
        if not isinstance(stamp, str) or not isinstance(session_id, str):
            raise ValueError
        when = datetime.fromisoformat(stamp)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValueError("the cursor is not one punie made; pass the nextCursor of the previous page") from None
    if when.tzinfo is None:
        raise ValueError("the cursor is not one punie made; pass the nextCursor of the previous page")
    return when, session_id
