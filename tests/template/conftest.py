from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def sam_build(sam_bin: str, sam_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` once per session (cross-platform arm64 wheels for python3.13, downloaded from PyPI)."""
    build_dir = tmp_path_factory.mktemp("sam-build") / "build"
    done = subprocess.run(
        [sam_bin, "build", "--template-file", "template.yaml", "--build-dir", str(build_dir), "--parallel"],
        cwd=ROOT,
        env=sam_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return build_dir


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def ministack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An AWS emulator with CloudFormation (ministack, in its own virtualenv: it pins its own botocore)."""
    python = ROOT / ".venv-ministack" / "bin" / "python"
    if not python.exists():
        pytest.fail("ministack not installed: run `make dev` (creates .venv-ministack)")
    data, port = tmp_path_factory.mktemp("ministack"), _free_port()
    env = dict(os.environ) | {
        "GATEWAY_PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "MINISTACK_HOST": "127.0.0.1",
        "TMPDIR": str(data),
        "S3_DATA_DIR": str(data / "s3"),
        "MINISTACK_ACCOUNT_ID": "123456789012",
    }
    log = (data / "ministack.log").open("w")
    server = subprocess.Popen([str(python), "-m", "ministack"], env=env, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to 30 s for the server to listen
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("ministack did not start: " + (data / "ministack.log").read_text()[-2000:])
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
