"""Cold start of every function against the floor ``import boto3; boto3.client("dynamodb")``, and the layer's size.

Each sample is a fresh interpreter that imports the handler module (running its module-level initialisation) with the
template's environment, timed inside the process so interpreter start-up, the same for all, is left out. Functions and
the floor take turns round by round, so machine noise hits them alike. Both clocks are kept: wall-clock (what Lambda
bills as init) and the process's CPU time (user + system). The verdict is the ratio of CPU-time medians: an import is
CPU-bound work, and on a shared 2-core VM the wall clock of a 300 ms import swings by ±20 % between runs of the same
code, which would make a 1.3-times verdict a coin toss; the wall-clock ratio is reported beside it.

`python -m bench.cold_start` writes bench/results/cold_start.json and cold_start.md.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TARGET_RATIO = 1.3
FLOOR = "floor"

_PROBE = """
import importlib, resource, sys, time
started, cpu = time.perf_counter(), time.process_time()
if sys.argv[1] == "floor":
    import boto3
    boto3.client("dynamodb")
else:
    sys.path[:0] = [sys.argv[1], sys.argv[2]]
    importlib.import_module("app")
elapsed, cpu_elapsed = time.perf_counter() - started, time.process_time() - cpu
if len(sys.argv) > 3:  # then every client a function may create, for the memory it needs once warm
    import boto3, httpx
    for service in ("dynamodb", "kms", "secretsmanager", "stepfunctions", "events", "sqs"):
        boto3.client(service)
    httpx.Client()
print(elapsed * 1000, cpu_elapsed * 1000, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def lambda_environment(function: str, *, sdk_tracing: bool = False) -> dict[str, str]:
    """What the Lambda runtime and the template put in the environment (values are placeholders: no AWS call)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "eu-central-1",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "_X_AMZN_TRACE_ID": "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
        "POWERTOOLS_SERVICE_NAME": function,
        "POWERTOOLS_METRICS_NAMESPACE": "BankConnectionUpdates",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "false" if sdk_tracing else "true",
    }


def sample(subject: str, *, sdk_tracing: bool = False, with_clients: bool = False) -> tuple[float, float, float]:
    """Wall-clock ms, CPU ms and peak RSS (MB) of one fresh interpreter importing ``subject``."""
    args = [FLOOR] if subject == FLOOR else [str(ROOT / "functions" / subject), str(ROOT / "layers" / "core")]
    args += ["with-clients"] if with_clients else []
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        env=lambda_environment(subject, sdk_tracing=sdk_tracing),
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def layer_size() -> dict[str, Any]:
    """Build the layer exactly as `sam build` does (its makefile, arm64 wheels) and measure it unzipped and zipped."""
    with tempfile.TemporaryDirectory() as build:
        env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        subprocess.run(
            ["make", "-s", "-C", str(ROOT / "layers" / "core"), "build-CoreLayer", f"ARTIFACTS_DIR={build}"],
            env=env,
            check=True,
            capture_output=True,
        )
        files = [p for p in Path(build).rglob("*") if p.is_file()]
        unzipped = sum(p.stat().st_size for p in files)
        archive = Path(build).with_suffix(".zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in files:
                zipped.write(path, path.relative_to(build))
        size = archive.stat().st_size
        archive.unlink()
        biggest: dict[str, int] = {}
        for path in files:
            top = path.relative_to(build).parts[1] if len(path.relative_to(build).parts) > 2 else path.name
            biggest[top] = biggest.get(top, 0) + path.stat().st_size
    largest = sorted(biggest.items(), key=lambda kv: -kv[1])[:6]
    return {
        "unzipped_mb": round(unzipped / 1e6, 1),
        "zipped_mb": round(size / 1e6, 1),
        "files": len(files),
        "largest_packages_mb": {name: round(b / 1e6, 1) for name, b in largest},
    }


def measure(rounds: int) -> dict[str, Any]:
    functions = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").is_file())
    subjects = [FLOOR, *functions]
    wall: dict[str, list[float]] = {s: [] for s in subjects}
    cpu: dict[str, list[float]] = {s: [] for s in subjects}
    rss: dict[str, float] = {}
    traced: list[float] = []
    traced_cpu: list[float] = []
    for n in range(rounds):
        order = subjects if n % 2 == 0 else list(reversed(subjects))
        for subject in order:
            millis, cpu_millis, peak = sample(subject)
            wall[subject].append(millis)
            cpu[subject].append(cpu_millis)
            rss[subject] = max(rss.get(subject, 0.0), peak)
        millis, cpu_millis, _ = sample("poll_update_status", sdk_tracing=True)
        traced.append(millis)
        traced_cpu.append(cpu_millis)
    floor, floor_cpu = statistics.median(wall[FLOOR]), statistics.median(cpu[FLOOR])
    rows = []
    for function in functions:
        median, median_cpu = statistics.median(wall[function]), statistics.median(cpu[function])
        rows.append(
            {
                "function": function,
                "init_ms_median": round(median, 1),
                "init_cpu_ms_median": round(median_cpu, 1),
                "ratio_to_floor": round(median_cpu / floor_cpu, 2),
                "wall_ratio_to_floor": round(median / floor, 2),
                "peak_rss_mb": round(rss[function], 1),
                "peak_rss_with_clients_mb": round(sample(function, with_clients=True)[2], 1),
                "meets_target": median_cpu / floor_cpu <= TARGET_RATIO,
            }
        )
    return {
        "rounds": rounds,
        "python": sys.version.split()[0],
        "floor_ms_median": round(floor, 1),
        "floor_cpu_ms_median": round(floor_cpu, 1),
        "target_ratio": TARGET_RATIO,
        "functions": rows,
        "poll_update_status_with_xray_sdk_ms_median": round(statistics.median(traced), 1),
        "poll_update_status_with_xray_sdk_cpu_ms_median": round(statistics.median(traced_cpu), 1),
    }


def markdown(result: dict[str, Any], layer: dict[str, Any]) -> str:
    lines = [
        f'Floor `import boto3; boto3.client("dynamodb")`: **{result["floor_cpu_ms_median"]} ms CPU**, '
        f"{result['floor_ms_median']} ms wall-clock (medians of {result['rounds']} fresh interpreters, Python "
        f"{result['python']}). Target: every function ≤ {result['target_ratio']}× the floor, judged on CPU time.",
        "",
        "| function | init CPU (ms) | **× floor (CPU)** | init wall-clock (ms) | × floor (wall) "
        "| peak RSS after init (MB) | with every AWS + finAPI client (MB) | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["functions"]:
        verdict = "met" if row["meets_target"] else f"MISSED by {row['ratio_to_floor'] - result['target_ratio']:.2f}×"
        lines.append(
            f"| {row['function']} | {row['init_cpu_ms_median']} | **{row['ratio_to_floor']}** "
            f"| {row['init_ms_median']} | {row['wall_ratio_to_floor']} | {row['peak_rss_mb']} "
            f"| {row['peak_rss_with_clients_mb']} | {verdict} |"
        )
    traced = result["poll_update_status_with_xray_sdk_cpu_ms_median"]
    lines += [
        "",
        f"With the X-Ray SDK switched on (`XRaySdkTracing=true`), poll_update_status takes {traced} ms CPU "
        f"({traced / result['floor_cpu_ms_median']:.2f}× the floor): the reason it is opt-in.",
        "",
        f"Layer (built by its makefile, arm64 wheels): **{layer['unzipped_mb']} MB unzipped, {layer['zipped_mb']} MB "
        f"zipped**, {layer['files']} files (Lambda limits: 250 MB unzipped, 50 MB zipped upload). Largest: "
        + ", ".join(f"{name} {mb} MB" for name, mb in layer["largest_packages_mb"].items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    rounds = int(os.environ.get("BENCH_COLD_ROUNDS", "15"))
    result = measure(rounds)
    layer = layer_size()
    result["layer"] = layer
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cold_start.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "cold_start.md").write_text(markdown(result, layer))
    print((RESULTS / "cold_start.md").read_text())


if __name__ == "__main__":
    main()
