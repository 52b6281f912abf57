from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).parent
# Tiers that start real processes or load weights: `pytest -m "not slow"` is the inner loop, CI runs all.
SLOW_DIRS = frozenset({"mlx", "e2e", "node"})
# A module that uses these starts the real `punie serve` as a subprocess.
SERVER_HELPERS = frozenset({"punie_server", "run_attack", "spawn_agent_process"})


def _is_slow(item: pytest.Item) -> bool:
    parts = item.path.relative_to(TESTS).parts
    if parts and parts[0] in SLOW_DIRS:
        return True
    module = getattr(item, "module", None)
    return module is not None and not SERVER_HELPERS.isdisjoint(vars(module))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def anyio_backend() -> str:
    # PydanticAI, the ACP SDK and pygls all need asyncio.
    return "asyncio"


@pytest.fixture
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "hello.py").write_text("print('hello')\nanswer = 42\n")
    (root / "README.md").write_text("# demo\n")
    return root
