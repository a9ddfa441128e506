from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sam_bin() -> str:
    """The SAM CLI lives in its own virtualenv (.venv-sam): its pins clash with the project's pydantic."""
    candidates = [os.environ.get("SAM_BIN"), str(ROOT / ".venv-sam" / "bin" / "sam"), shutil.which("sam")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("SAM CLI not found: run `make dev` (creates .venv-sam) or set SAM_BIN")


@pytest.fixture(scope="session")
def sam_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SAM_CLI_TELEMETRY="0",
        __SAM_CLI_APP_DIR=str(tmp_path_factory.mktemp("samcli")),
        AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "eu-central-1"),
    )
    return env
