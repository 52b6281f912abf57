"""Fuzzing the JSON-RPC face of the real `punie serve`: any line, first or later, gets the answer
JSON-RPC 2.0 requires, stdout carries strict JSON only, and the server keeps serving.

Each example is one server fed a handful of generated lines; the first of them meets the early
`initialize` path, the rest the main transport. Every generated line knows what it must get
back: one answer with its own id (a request), one answer with a null id (unreadable or not a
request object), or nothing (a notification, a response to nothing).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.acp_client import PUNIE, server_env

PROBE_ID = "probe-after-the-fuzz"
PROBE = json.dumps({"jsonrpc": "2.0", "id": PROBE_ID, "method": "session/list", "params": {}}).encode()


@dataclass(frozen=True)
class Line:
    data: bytes
    answered_with: Any = None  # the id its one answer carries, when it is a request
    null_answers: int = 0  # answers with a null id it must get (unreadable, not a request, a batch of junk)
    batch_ids: tuple[Any, ...] = ()  # ids each answered inside one array (a batch of requests)


def _strict(name: str) -> Any:
    raise AssertionError(f"{name} written to stdout")


# JSON values as a hostile client would send them: lone surrogates, huge and non-finite
# numbers, deep nesting. `json.dumps` writes NaN/Infinity literally (not JSON); those lines are
# handled in their own strategy, so here floats stay finite.
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=20),
    st.sampled_from(["\ud800", "a\udfffb", "\x00", "\u2028", "\ufeff", "/etc/passwd", "../../.."]),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_methods = st.one_of(
    st.sampled_from(
        [
            "initialize",
            "session/new",
            "session/list",
            "session/prompt",
            "session/set_mode",
            "session/cancel",
            "session/load",
            "authenticate",
            "_punie/x",
            "no/such",
            "\ud800",
            "",
        ]
    ),
    st.text(max_size=12),
)
# Not an absolute directory: a fuzzed `session/new` must not open a session on `/`.
_cwds = st.sampled_from(["", "relative", "../..", "\ud800", "/nonexistent/\x00", "/dev/null", 5, None, ["/"]])


def _ids(index: int) -> st.SearchStrategy[Any]:
    """Ids unique to line `index`: strings, integers, and numbers with a fraction (all valid JSON-RPC ids)."""
    base = index * 10**7
    return st.one_of(
        st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=10).map(lambda s: f"{s}#{index}"),
        st.integers(min_value=0, max_value=10**6).map(lambda n: base + n),
        st.integers(min_value=0, max_value=10**6).map(lambda n: -base - n - 1),
        st.floats(min_value=0.001, max_value=10**6, exclude_max=True)
        .filter(lambda f: not f.is_integer())
        .map(lambda f: base + f),
    )


def _dump(value: Any) -> bytes:
    return json.dumps(value).encode()  # ensure_ascii: lone surrogates go out as \\udxxx escapes


@st.composite
def requests(draw: st.DrawFn, id_: Any) -> Line:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": draw(_methods)}
    shape = draw(st.sampled_from(["object", "array", "absent", "deep", "initialize"]))
    if shape == "object":
        message["params"] = draw(st.dictionaries(st.sampled_from(["sessionId", "prompt", "mcpServers", "x"]), _json))
        if draw(st.booleans()):
            message["params"]["cwd"] = draw(_cwds)
    elif shape == "array":
        message["params"] = draw(st.lists(_json, max_size=3))
    elif shape == "deep":
        # Readable but deeper than the server takes (-32600 with the id), or too deep for the
        # interpreter to read at all (-32700, null id); the band in between depends on the stack.
        depth = draw(st.one_of(st.integers(min_value=1, max_value=700), st.integers(min_value=1500, max_value=200_000)))
        message["params"] = None
        nested = b"[" * depth + b"]" * depth
        data = _dump(message).replace(b'"params": null', b'"params": {"x": ' + nested + b"}")
        return Line(data, answered_with=id_) if depth <= 700 else Line(data, null_answers=1)
    elif shape == "initialize":
        message["method"] = "initialize"
        message["params"] = {
            "protocolVersion": draw(st.one_of(st.integers(-5, 70_000), _json)),
            "clientCapabilities": draw(_json),
            "clientInfo": draw(_json),
        }
    return Line(_dump(message), answered_with=id_)


@st.composite
def hostile_lines(draw: st.DrawFn, index: int) -> Line:
    id_ = draw(_ids(index))
    kind = draw(
        st.sampled_from(
            ["request", "request", "notification", "garbage", "bad id", "non-finite", "huge number", "batch", "reply"]
        )
    )
    if kind == "request":
        return draw(requests(id_))
    if kind == "notification":
        message = {"jsonrpc": "2.0", "method": draw(_methods), "params": draw(_json)}
        return Line(_dump(message))
    if kind == "garbage":
        junk = draw(st.binary(min_size=1, max_size=60)).replace(b"\n", b" ")
        prefix = draw(st.sampled_from([b"{", b"[", b"\xff", b"\xef\xbb\xbf{", b"nul", b'{"id":', b"\x00"]))
        return Line(prefix + junk + b"\x01", null_answers=1)  # a raw control byte: never valid JSON
    if kind == "bad id":
        bad = draw(
            st.one_of(
                st.booleans(),
                st.lists(st.integers(), max_size=2),
                st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
            )
        )
        return Line(_dump({"jsonrpc": "2.0", "id": bad, "method": draw(_methods)}), null_answers=1)
    if kind == "non-finite":
        literal = draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity"]))
        return Line(
            b'{"jsonrpc":"2.0","id":' + _dump(id_) + b',"method":"session/new","params":{"cwd":' + literal + b"}}",
            null_answers=1,
        )
    if kind == "huge number":
        number = draw(st.sampled_from([b"1e999", b"-1e400", b"9" * 5000, b"1" + b"0" * 100_000]))
        return Line(
            b'{"jsonrpc":"2.0","id":' + _dump(id_) + b',"method":"session/new","params":{"cwd":' + number + b"}}",
            answered_with=id_,
        )
    if kind == "batch":
        ids = [f"b{index}-{n}" for n in range(draw(st.integers(min_value=1, max_value=3)))]
        batch = [{"jsonrpc": "2.0", "id": i, "method": "session/list", "params": {}} for i in ids]
        return Line(_dump(batch), batch_ids=tuple(ids))
    reply = {"jsonrpc": "2.0", "id": id_, draw(st.sampled_from(["result", "error"])): draw(_json)}
    return Line(_dump(reply))  # a response to no request of ours: nothing to answer


def _serve(lines: list[Line], log_dir: Path) -> list[Any]:
    proc = subprocess.run(
        [*PUNIE, "serve", "--model", "test"],
        input=b"".join(line.data + b"\n" for line in lines) + PROBE + b"\n",
        capture_output=True,
        env=server_env(log_dir),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    # Strict: valid UTF-8, one JSON value a line, no NaN/Infinity.
    return [json.loads(line.decode("utf-8"), parse_constant=_strict) for line in proc.stdout.splitlines()]


def _check_answer(answer: Any) -> None:
    assert isinstance(answer, dict) and answer.get("jsonrpc") == "2.0", answer
    assert ("result" in answer) != ("error" in answer), answer
    if "error" in answer:
        assert isinstance(answer["error"]["code"], int) and isinstance(answer["error"]["message"], str)
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in _leaves(answer))


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _key(id_: Any) -> Any:
    """What the answer's id reads back as: the server reads surrogate pairs as one character and
    writes a lone surrogate as U+FFFD."""
    if not isinstance(id_, str):
        return id_
    return re.sub("[\ud800-\udfff]", "\ufffd", json.loads(json.dumps(id_)))


@pytest.mark.timeout(900)  # a dozen servers started one after another on a shared machine
@settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_line_gets_what_json_rpc_requires(data: st.DataObject, tmp_path: Path) -> None:
    count = data.draw(st.integers(min_value=1, max_value=12), label="lines")
    lines = [data.draw(hostile_lines(i), label=f"line {i}") for i in range(count)]
    out = _serve(lines, tmp_path)

    batches = [item for item in out if isinstance(item, list)]
    answers = [item for item in out if not isinstance(item, list)]
    for answer in answers + [a for batch in batches for a in batch]:
        _check_answer(answer)
    by_id = Counter(_key(a["id"]) for a in answers if a["id"] is not None)
    expected = Counter(_key(line.answered_with) for line in lines if line.answered_with is not None)
    expected[PROBE_ID] += 1
    assert by_id == expected, f"answers by id {by_id} != requests {expected}"
    null_answers = sum(1 for a in answers if a["id"] is None) + sum(1 for b in batches for a in b if a["id"] is None)
    assert null_answers == sum(line.null_answers for line in lines)
    assert sorted(tuple(a["id"] for a in b) for b in batches if any(a["id"] is not None for a in b)) == sorted(
        line.batch_ids for line in lines if line.batch_ids
    )
    probe = next(a for a in answers if a["id"] == PROBE_ID)
    assert "result" in probe, probe  # the server still serves after all of it
