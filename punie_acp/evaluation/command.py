"""`punie eval run|compare|list`: the command line of the evaluation (cli.py registers it)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `punie serve` builds this parser too: what runs an evaluation is imported when one runs
    from punie_acp.evaluation.suite import Suite

log = logging.getLogger(__name__)

OWN_FLAGS = frozenset(
    {"command", "eval_command", "suites", "jobs", "threshold", "json", "html", "case_timeout", "a", "b", "max_drop"}
)


def _share(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1, got {raw!r}")
    return value


def _positive(kind: Callable[[str], Any], upper: float) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            value = kind(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {raw!r}") from None
        if not 0 < value <= upper:
            raise argparse.ArgumentTypeError(f"expected a number above 0 and at most {upper:g}, got {raw!r}")
        return value

    return parse


def add_eval_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None], epilog: str) -> None:
    evaluate = sub.add_parser("eval", help="score a model on suites of prompts (README: Evaluate a model)")
    actions = evaluate.add_subparsers(dest="eval_command", required=True)
    run = actions.add_parser(
        "run", help="run suites through the agent and write a JSON and an HTML report", epilog=epilog
    )
    common(run)
    run.add_argument(
        "suites", nargs="*", help="suite files or built-in names (default: every built-in suite, see `punie eval list`)"
    )
    run.add_argument("--jobs", type=_positive(int, 64), default=1, help="cases run at once (default: 1)")
    run.add_argument("--threshold", type=_share, default=0.0, help="exit 1 when the share of cases passed is lower")
    run.add_argument(
        "--json", type=Path, default=Path("punie-eval.json"), help="report file (default: punie-eval.json)"
    )
    run.add_argument("--html", type=Path, default=None, help="HTML report (default: beside the JSON, .html)")
    run.add_argument(
        "--case-timeout", type=_positive(float, 86_400), default=600.0, help="seconds one case may run (default: 600)"
    )
    comparing = actions.add_parser("compare", help="compare run B with run A; exit 1 when B's score drops")
    comparing.add_argument("a", type=Path, help="the baseline report (JSON)")
    comparing.add_argument("b", type=Path, help="the report to judge (JSON)")
    comparing.add_argument(
        "--max-drop", type=_share, default=0.0, help="score drop tolerated, as a share (default: 0, any drop fails)"
    )
    actions.add_parser("list", help="list the built-in suites")


def main_eval(args: argparse.Namespace) -> int:
    if args.eval_command == "compare":
        return _compare(args)
    if args.eval_command == "list":
        return _list()
    return _run(args)


def _list() -> int:
    from punie_acp.evaluation.suite import builtin_names, find_suite

    for name in builtin_names():
        suite = find_suite(name)
        print(f"{name}: {len(suite.cases)} cases. {suite.description.strip().splitlines()[0]}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from punie_acp.evaluation.compare import compare
    from punie_acp.evaluation.report import ReportError, read_report

    try:
        a, b = read_report(args.a), read_report(args.b)
        result = compare(a, b, args.max_drop)
    except ReportError as exc:
        print(f"punie: {exc}", file=sys.stderr)
        return 2
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        print(
            f"punie: a report is malformed ({type(exc).__name__}: {exc}); give reports written by `punie eval run`",
            file=sys.stderr,
        )
        return 2
    print("\n".join(result.lines))
    if result.regressions:
        print(
            f"punie: B regresses (more than {100 * args.max_drop:.0f} points): " + "; ".join(result.regressions),
            file=sys.stderr,
        )
        return 1
    return 0


def _load(names: list[str]) -> list[Suite]:
    from punie_acp.evaluation.suite import SuiteError, builtin_names, find_suite

    suites = [find_suite(name) for name in names or builtin_names()]
    seen: set[str] = set()
    for suite in suites:
        if suite.name in seen:
            raise SuiteError(f"two suites are named {suite.name!r}; give each its own 'name'")
        seen.add(suite.name)
    return suites


def _run(args: argparse.Namespace) -> int:
    from punie_acp.config import load_settings
    from punie_acp.evaluation.suite import SuiteError
    from punie_acp.logsetup import configure_logging

    try:
        settings = load_settings({k: v for k, v in vars(args).items() if k not in OWN_FLAGS and v is not None})
        suites = _load(args.suites)
    except (ValueError, SuiteError) as exc:
        print(f"punie: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_file)
    from punie_acp.tools.children import reaping

    try:
        return asyncio.run(reaping(_run_async(args, settings, suites)))
    except KeyboardInterrupt:
        return 130


async def _progress(total: int) -> Callable[[str, dict[str, Any]], Any]:
    done = 0

    async def show(suite: str, case: dict[str, Any]) -> None:
        nonlocal done
        done += 1
        state = (
            "passed" if case["passed"] else "failed: " + ", ".join(k for k, v in case["checks"].items() if v is False)
        )
        print(f"[{done}/{total}] {suite}/{case['id']} {state} ({case['metrics']['total_s']:.2f} s)", file=sys.stderr)

    return show


async def _run_async(args: argparse.Namespace, settings: Any, suites: list[Suite]) -> int:
    from punie_acp.evaluation.fixture import FixtureError
    from punie_acp.evaluation.html import render_html
    from punie_acp.evaluation.report import build_report, model_identity, write_report
    from punie_acp.evaluation.runner import EvalRun, RunOptions, eval_settings
    from punie_acp.models.base import ModelNotAvailable
    from punie_acp.models.registry import resolve_backend

    settings = eval_settings(settings)
    jobs = min(args.jobs, settings.max_open_sessions)
    started = datetime.now(UTC)
    try:
        backend = resolve_backend(settings.model, settings)
        identity = model_identity(settings.model, backend.name)
        results = await EvalRun(backend, settings, RunOptions(jobs, args.case_timeout)).run(
            suites, await _progress(sum(len(s.cases) for s in suites))
        )
    except Exception as exc:
        cause: BaseException = exc
        while isinstance(cause, BaseExceptionGroup) and len(cause.exceptions) == 1:
            cause = cause.exceptions[0]  # task groups wrap what they raise
        if isinstance(cause, ModelNotAvailable | FixtureError):
            print(f"punie: {cause}", file=sys.stderr)
            return 2
        log.error("the evaluation failed unexpectedly", exc_info=exc)
        where = settings.log_file or "the log file"
        summary = f"{type(cause).__name__}: {cause}".splitlines()[0][:300]
        print(f"punie: the evaluation failed unexpectedly ({summary}); the details are in {where}", file=sys.stderr)
        return 2
    options = {"jobs": jobs, "case_timeout": args.case_timeout, "threshold": args.threshold}
    report = build_report(results, settings, identity, options, started)
    html_path = args.html or args.json.with_suffix(".html")
    try:
        write_report(report, args.json)
        html_path.write_text(render_html(report), encoding="utf-8")
    except OSError as exc:
        print(f"punie: cannot write the report: {exc}", file=sys.stderr)
        return 2
    for suite in results:
        summary = suite["summary"]
        print(f"{suite['name']}: {summary['passed']}/{summary['cases']} passed ({100 * summary['score']:.0f}%)")
    score = report["summary"]["score"]
    print(f"overall: {100 * score:.0f}%; report {args.json}, {html_path}")
    if score < args.threshold:
        print(f"punie: score {100 * score:.0f}% is below the threshold {100 * args.threshold:.0f}%", file=sys.stderr)
        return 1
    return 0
