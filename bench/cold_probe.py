"""One cold start in a fresh interpreter, as Lambda runs it: INIT (import the handler module), then the first
invocation with a real event against the local stack. Run by bench/cold_start.py, one process per sample.

``python -I -S bench/cold_probe.py <function dir | floor> <layer paths> <event.json> <result.json> <memory MB>
[<timeout s>]``

(``<layer paths>``: the layer's code and its packages, ``os.pathsep``-separated, put first on ``sys.path``.)

The floor is ``import boto3; boto3.client("dynamodb")``: what any Python function that talks to AWS pays at least.
Timed inside the process, so the interpreter's own start-up (the same for every subject) is left out. CPU time is the
process's (user + system); wall-clock includes the waits on moto and the finAPI sandbox.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import uuid
from typing import Any

# Packages whose loading dominates a cold start: which of them a function loaded at INIT and at its first invocation.
NOTABLE = (
    "boto3",
    "botocore",
    "httpx",
    "pydantic",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_xray_sdk",
    "bankupdate.finapi.client",
    "bankupdate.finapi.webform_client",
    "bankupdate.api.models",
)


class Context:
    """What the Lambda runtime hands the handler."""

    def __init__(self, name: str, memory_mb: int, timeout_seconds: float = 60) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:eu-central-1:123456789012:function:{name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "bench/cold"
        self._deadline = time.monotonic() + timeout_seconds  # the function's Timeout, as Lambda counts down

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _loaded() -> list[str]:
    return [name for name in NOTABLE if name in sys.modules]


def main() -> None:
    function_dir, layer_paths, event_path, result_path, memory = sys.argv[1:6]
    timeout = float(sys.argv[6]) if len(sys.argv) > 6 else 60.0
    out: dict[str, Any] = {}
    sys.path[:0] = layer_paths.split(os.pathsep)
    started, cpu = time.perf_counter(), time.process_time()
    if function_dir == "floor":
        import boto3

        boto3.client("dynamodb")
        module = None
    else:
        sys.path.insert(0, function_dir)
        module = importlib.import_module("app")
    out["init_ms"] = (time.perf_counter() - started) * 1000
    out["init_cpu_ms"] = (time.process_time() - cpu) * 1000
    out["loaded_at_init"] = _loaded()
    out["first_ms"] = out["first_cpu_ms"] = 0.0
    if module is not None:
        with open(event_path) as source:
            event = json.load(source)
        context = Context(function_dir.rstrip("/").rsplit("/", 1)[-1], int(memory), timeout)
        started, cpu = time.perf_counter(), time.process_time()
        result = module.lambda_handler(event, context)
        out["first_ms"] = (time.perf_counter() - started) * 1000
        out["first_cpu_ms"] = (time.process_time() - cpu) * 1000
        out["status"] = result.get("statusCode") if isinstance(result, dict) else None
        out["batch_failures"] = len(result.get("batchItemFailures", [])) if isinstance(result, dict) else 0
        out["loaded_at_first"] = _loaded()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(result_path, "w") as sink:
        json.dump(out, sink)


if __name__ == "__main__":
    profile_path = os.environ.get("BENCH_COLD_PROFILE")  # where to write a cProfile of the sample (for digging)
    if profile_path:
        import cProfile

        cProfile.run("main()", profile_path)
    else:
        main()
