"""`punie serve`, the real command in this process, telling on stderr whether PydanticAI had been
imported when `session/new` was answered (the test double is the wrapper, nothing else).

    python -m tests.e2e.lazy_probe serve --model test
"""

from __future__ import annotations

import sys
from typing import Any

from punie_acp.acp.agent import PunieAgent
from punie_acp.cli import main

PROBE = "lazy-probe: pydantic_ai imported when session/new was answered:"

_real_new_session = PunieAgent.new_session


async def _telling_new_session(self: PunieAgent, *args: Any, **kwargs: Any) -> Any:
    response = await _real_new_session(self, *args, **kwargs)
    print(PROBE, "pydantic_ai" in sys.modules, file=sys.stderr, flush=True)
    return response


if __name__ == "__main__":
    PunieAgent.new_session = _telling_new_session  # type: ignore[method-assign]
    sys.exit(main(sys.argv[1:]))
