"""Service benchmark, all in one run on this machine: the in-process limit of predict_proba,
a minimal FastAPI peer, and the BentoML service, loaded over loopback with wrk; then the cost of
a challenger: the same bento served with params ab.mode "off", "shadow" (params' ab.shadow_max_busy) and
"shadow" scoring every row (ab.shadow_max_busy 1) side by side, their runs alternating point by
point, so that load on the machine falls on all alike. In shadow mode each run also records the share of
rows the challenger scored (from the service's mlloop_shadow_rows_skipped counter).

Setup (not timed): a fresh clone of the committed repository whose first commit trains a champion
(the same estimator, another learning rate: the same number of trees, so the same cost a call),
registered and at stage prod; then the committed params trained as the challenger, and `make bento`
with each mode into a temporary BENTOML_HOME of its own. Needs `wrk` (Debian package). Prints the
results and writes bench/results/service.json.

    python bench/serving.py [--seconds 10] [--rounds 3] [--ab-only]
"""

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import psutil
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from mlloop.monitoring.fold_in import params_round_trip

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results" / "service.json"
TOOLS = Path(sys.executable).parent
CONCURRENCY = (1, 8, 32)
BATCH_ROWS = 1000
"""Rows per /predict_batch request: serve.max_batch_size, the largest batch a client may send."""
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
MODES: dict[str, dict[tuple[str, ...], str | float]] = {
    "off": {("ab", "mode"): "off"},
    "shadow": {("ab", "mode"): "shadow"},
    "shadow_scoring_every_row": {("ab", "mode"): "shadow", ("ab", "shadow_max_busy"): 1.0},
}
"""Each configuration served, by the params it sets."""
CHAMPION_LEARNING_RATE = 0.05
IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def environment(**extra: str) -> dict[str, str]:
    return os.environ | {"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"} | extra


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(command: list[str], cwd: Path, ready_url: str, env: dict[str, str]) -> Iterator[int]:
    """The command serving until ready; yields its process id."""
    server = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(ready_url, timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise SystemExit(f"{command} did not become ready")
        yield server.pid
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def load(url: str, body: str, connections: int, seconds: int, scratch: Path) -> dict[str, float]:
    """wrk with one thread (the other core serves), latency percentiles included."""
    script = scratch / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\nwrk.headers["Content-Type"] = "application/json"\n'
    )
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    requests = re.search(r"(\d+) requests in", output)
    # A percentile's own line of the latency distribution: a thread statistic's share ("71.50%") ends likewise.
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50_ms": milliseconds(percentiles["50"]),
        "p99_ms": milliseconds(percentiles["99"]),
        "errors": float(errors.group(1)) if errors else 0.0,
        "requests": float(requests.group(1)) if requests else 0.0,
    }


def cpu_seconds(server: int) -> dict[str, float]:
    """CPU time so far of a BentoML server's processes: its worker's (the service) and its model process's.

    Unlike throughput, CPU time per request hardly moves with other work on the machine.
    """
    spent = {"service": 0.0, "model": 0.0}
    for process in psutil.Process(server).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            if "multiprocessing.forkserver" in " ".join(process.parent().cmdline()):
                spent["model"] += times.user + times.system
            elif "_bentoml_impl.worker" in " ".join(process.cmdline()):
                spent["service"] += times.user + times.system
    return spent


def in_process(model: Any, rows: pd.DataFrame) -> dict[str, float]:
    single = []
    for index in range(200):
        start = time.perf_counter()
        model.predict_proba(rows.iloc[[index % len(rows)]])
        single.append(time.perf_counter() - start)
    rates = {}
    for size in (BATCH_ROWS, 10_000):
        batch = rows.sample(n=size, replace=True, random_state=0)
        seconds = []
        for _ in range(10):
            start = time.perf_counter()
            model.predict_proba(batch)
            seconds.append(time.perf_counter() - start)
        # The fastest of ten: the limit, which a noisy neighbour can only lower.
        rates[f"batch_{size}_rows_per_second"] = size / min(seconds)
    return {
        "single_row_ms_p50": statistics.median(single) * 1e3,
        "single_row_rows_per_second": 1 / statistics.median(single),
    } | rates


def set_params(root: Path, settings: dict[tuple[str, ...], Any]) -> None:
    """Set knobs of params.yaml, keeping its layout and quotes (a bare off would be false)."""
    yaml = params_round_trip()
    document = yaml.load(root / "params.yaml")
    for (*sections, knob), value in settings.items():
        table = document
        for section in sections:
            table = table[section]
        table[knob] = DoubleQuotedScalarString(value) if isinstance(value, str) else value
    yaml.dump(document, root / "params.yaml")


def prepare(scratch: Path) -> tuple[Path, dict[str, Path]]:
    """The clone with a champion at stage prod and the committed params trained beside it; a BentoML home per mode."""
    clone = scratch / "clone"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(clone)], check=True)
    (clone / ".venv").symlink_to(TOOLS.parent)
    env = environment(**IDENTITY)

    def run(*command: str, **extra: str) -> None:
        subprocess.run(command, cwd=clone, env=env | extra, check=True, capture_output=True)

    set_params(clone, {("train", "hyperparameters", "learning_rate"): CHAMPION_LEARNING_RATE})
    run("dvc", "repro", "--quiet")
    run("git", "commit", "--quiet", "--all", "--message", "the champion")
    run("gto", "register", "churn", "HEAD", "--version", "v0.1.0")
    run("gto", "assign", "churn", "--version", "v0.1.0", "--stage", "prod")
    run("git", "checkout", "HEAD~1", "--", "params.yaml")
    run("dvc", "repro", "--quiet")
    homes = {}
    for mode, settings in MODES.items():
        homes[mode] = scratch / f"bentoml-{mode}"
        set_params(clone, settings)
        run("make", "bento", "-o", ".venv/.synced", BENTOML_HOME=str(homes[mode]))
    return clone, homes


def shadow_rows_skipped(url: str) -> float:
    """The service's count so far of rows its shadow challenger skipped (0 for a bento that has no shadow)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        exposition = response.read().decode()
    return sum(float(value) for value in re.findall(r"^mlloop_shadow_rows_skipped_total\S* (\S+)$", exposition, re.M))


def median_point(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the runs of one point."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def side_by_side(
    urls: dict[str, str], servers: dict[str, int], bodies: dict[str, str], seconds: int, rounds: int, scratch: Path
) -> dict[str, dict[str, Any]]:
    """Every point in every mode, `rounds` times; at each point the modes alternate which goes first.

    Each run also records the CPU milliseconds the service's and the model's process spent per request, and the
    share of rows the challenger scored.
    """
    points = {f"c{c}": ("/predict", bodies["single"], c) for c in CONCURRENCY} | {
        "batch_c4": ("/predict_batch", bodies["batch"], 4)
    }
    runs: dict[str, dict[str, list[dict[str, float]]]] = {mode: {point: [] for point in points} for mode in MODES}
    for round_number in range(rounds):
        for point, (path, body, connections) in points.items():
            for mode in list(MODES) if round_number % 2 == 0 else list(MODES)[::-1]:
                before, skipped_before = cpu_seconds(servers[mode]), shadow_rows_skipped(urls[mode])
                measured = load(f"{urls[mode]}{path}", body, connections, seconds, scratch)
                after, skipped = cpu_seconds(servers[mode]), shadow_rows_skipped(urls[mode]) - skipped_before
                for process in before:
                    spent = after[process] - before[process]
                    measured[f"{process}_cpu_ms_per_request"] = spent * 1e3 / max(measured["requests"], 1.0)
                rows = measured["requests"] * (BATCH_ROWS if point.startswith("batch") else 1)
                if MODES[mode][("ab", "mode")] == "shadow":
                    measured["challenger_scored_share"] = 1 - skipped / max(rows, 1.0)
                if point.startswith("batch"):
                    measured["rows_per_second"] = measured["requests_per_second"] * BATCH_ROWS
                runs[mode][point].append(measured)
    return {
        mode: {point: median_point(measured) | {"runs": measured} for point, measured in by_point.items()}
        for mode, by_point in runs.items()
    }


def targets(modes: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The issue's figures, for each shadow configuration: shadow / off single-row throughput at c=32, p99 at c=8,
    shadow / off batch rows/s; and the share of rows its challenger scored at those points.
    """
    off = modes["off"]
    return {
        mode: {
            "shadow_over_off_c32_requests_per_second": shadow["c32"]["requests_per_second"]
            / off["c32"]["requests_per_second"],
            "shadow_c8_p99_ms": shadow["c8"]["p99_ms"],
            "shadow_over_off_batch_rows_per_second": shadow["batch_c4"]["rows_per_second"]
            / off["batch_c4"]["rows_per_second"],
            "challenger_scored_share_c32": shadow["c32"]["challenger_scored_share"],
            "challenger_scored_share_c8": shadow["c8"]["challenger_scored_share"],
            "challenger_scored_share_batch": shadow["batch_c4"]["challenger_scored_share"],
        }
        for mode, shadow in modes.items()
        if mode != "off"
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each point in each mode, alternating")
    parser.add_argument("--ab-only", action="store_true", help="skip the in-process limit and the FastAPI peer")
    arguments = parser.parse_args()
    seconds = arguments.seconds
    results: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "seconds_per_point": seconds,
        "rounds": arguments.rounds,
        "load_average_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        clone, homes = prepare(scratch)
        model = joblib.load(clone / "models" / "model.joblib")
        features = json.loads((clone / "models" / "model.json").read_text())["schema"]["features"]
        test = pd.read_parquet(clone / "data" / "prepared" / "test.parquet")[list(features)]
        customer = json.loads(test.iloc[[1]].to_json(orient="records"))[0]
        bodies = {"single": json.dumps(customer), "batch": json.dumps({"customers": [customer] * BATCH_ROWS})}

        if not arguments.ab_only:
            results["in_process"] = in_process(model, test)
            port = free_port()
            peer = [str(TOOLS / "uvicorn"), "fastapi_peer:app", "--port", str(port), "--log-level", "warning"]
            peer_env = environment(MODEL_PATH=str(clone / "models" / "model.joblib"), PYTHONPATH=str(PROJECT / "bench"))
            with serving(peer, clone, f"http://127.0.0.1:{port}/docs", peer_env):
                results["fastapi_peer"] = {
                    f"c{c}": load(f"http://127.0.0.1:{port}/predict", bodies["single"], c, seconds, scratch)
                    for c in CONCURRENCY
                }

        ports = {mode: free_port() for mode in MODES}
        urls = {mode: f"http://127.0.0.1:{port}" for mode, port in ports.items()}
        with contextlib.ExitStack() as stack:
            servers = {}
            for mode in MODES:
                command = [
                    "bentoml",
                    "serve",
                    "churn_service:latest",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(ports[mode]),
                ]
                env = environment(BENTOML_HOME=str(homes[mode]), MLLOOP_INFERENCE_LOG_DIR=str(scratch / f"log-{mode}"))
                servers[mode] = stack.enter_context(serving(command, clone, f"{urls[mode]}/readyz", env))
            modes = side_by_side(urls, servers, bodies, seconds, arguments.rounds, scratch)
        results["bentoml_service"] = modes["off"]
        results["champion_and_challenger"] = {"modes": modes, "targets": targets(modes)}
    results["load_average_after"] = os.getloadavg()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
