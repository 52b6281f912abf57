"""Every check `punie doctor` runs, in the order shown; one that raises becomes a warning."""

from __future__ import annotations

import logging
from collections.abc import Callable

from punie_acp.doctor.editors import editor_checks
from punie_acp.doctor.machine import backend_checks, platform_check
from punie_acp.doctor.models import cache_checks, model_checks
from punie_acp.doctor.places import language_server_checks, location_checks, sdk_checks
from punie_acp.doctor.result import Check, Context

log = logging.getLogger(__name__)

CHECKS: tuple[Callable[[Context], Check | list[Check]], ...] = (
    platform_check,
    backend_checks,
    model_checks,
    cache_checks,
    language_server_checks,
    editor_checks,
    location_checks,
    sdk_checks,
)


def run_checks(ctx: Context) -> list[Check]:
    found: list[Check] = []
    for check in CHECKS:
        try:
            result = check(ctx)
        except Exception as exc:  # one broken probe must not hide the others
            log.warning("doctor: %s failed", check.__name__, exc_info=True)
            result = Check(
                check.__name__.removesuffix("_checks").removesuffix("_check"), "warn", f"the check failed: {exc}"
            )
        found.extend(result if isinstance(result, list) else [result])
    return found
