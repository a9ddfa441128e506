"""A stack's function settings end with the stack: the next stack in the same process must not find them."""

from __future__ import annotations

import os
from pathlib import Path

from local_stack.lambdas import FunctionRuntime, LocalFunction

HANDLER = "import os\n\ndef handler(event, context):\n    return os.environ.get('POLL_LOOP_MAX_SECONDS')\n"


def _function(code_dir: Path, environment: dict[str, str]) -> LocalFunction:
    (code_dir / "app.py").write_text(HANDLER)
    return LocalFunction(
        logical_id="PollFunction",
        name="local-poll",
        handler="app.handler",
        code_dir=code_dir,
        environment=environment,
        timeout=5,
        memory=128,
    )


def test_a_function_setting_of_one_runtime_is_gone_when_the_next_runtime_starts(tmp_path: Path) -> None:
    # Given a runtime whose function sets a loop limit (as one test stack's env overrides do) and was invoked
    first = FunctionRuntime(echo_logs=False)
    first.add(_function(tmp_path, {"AWS_LAMBDA_FUNCTION_NAME": "local-poll", "POLL_LOOP_MAX_SECONDS": "6"}))
    first.start()
    try:
        seen_by_first = first.invoke(first.by_logical_id("PollFunction"), {})
    finally:
        first.stop()
    # When the next runtime's function, which sets no loop limit, runs
    second = FunctionRuntime(echo_logs=False)
    second.add(_function(tmp_path, {"AWS_LAMBDA_FUNCTION_NAME": "local-poll"}))
    second.start()
    try:
        seen_by_second = second.invoke(second.by_logical_id("PollFunction"), {})
    finally:
        second.stop()
    # Then only the first saw the limit, and the process environment is as it was
    assert seen_by_first == "6"
    assert seen_by_second is None
    assert "POLL_LOOP_MAX_SECONDS" not in os.environ
