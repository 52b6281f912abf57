"""TEST DOUBLES: deterministic fabricated models for `punie eval`, as `--model script:FILE` scripts.

Each knows nothing but its rule, so its score on a suite is known in advance:
- `oracle`: plays every case's reference calls and answer (keyed by the case's prompt) → every case passes;
- `direct`: answers every prompt with text, no tool → passes exactly the cases that expect a direct
  answer and ask for no keyword;
- `looper`: calls the same tool with the same arguments again and again → the loop guard stops every case.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from punie_acp.evaluation.suite import Case, Suite

DIRECT_TEXT = "Here is an answer from what I know, without looking at any files."
Responses = list[list[dict[str, Any]]]


def _oracle_responses(case: Case) -> Responses:
    calls: Responses = [[{"call": ref.tool, "args": dict(ref.args)}] for ref in case.reference]
    return [*calls, [{"say": case.reference_answer or DIRECT_TEXT}]]


def oracle(suites: Sequence[Suite]) -> dict[str, Any]:
    by_prompt = {case.prompt: _oracle_responses(case) for suite in suites for case in suite.cases}
    return {"responses": [[{"say": "The oracle knows no case with this prompt."}]], "by_prompt": by_prompt}


def direct() -> dict[str, Any]:
    return {"responses": [[{"say": DIRECT_TEXT}]]}


def looper() -> dict[str, Any]:
    return {"responses": [[{"call": "grep", "args": {"pattern": "again"}}]]}


def write_double(directory: Path, name: str, script: dict[str, Any]) -> str:
    """The `--model` spec of a double written to `directory`."""
    path = directory / f"{name}.json"
    path.write_text(json.dumps(script))
    return f"script:{path}"
