from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    # PydanticAI, the ACP SDK and pygls all need asyncio.
    return "asyncio"


@pytest.fixture
def project(tmp_path_factory: pytest.TempPathFactory) -> object:
    root = tmp_path_factory.mktemp("project")
    (root / "hello.py").write_text("print('hello')\nanswer = 42\n")
    (root / "README.md").write_text("# demo\n")
    return root
