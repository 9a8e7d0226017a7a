"""Pipeline benchmarks: cold run, no-op run, and per-stage cost as the table grows.

Runs against a fresh clone of the committed repository in a temporary directory, with
the project's environment already installed. Prints a Markdown table for bench/README.md
and writes the raw figures to bench/results/pipeline.json.

    python bench/pipeline.py [--sizes 100000 1000000] [--noop-runs 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

PROJECT = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "validate", "split", "train", "evaluate")
RESULTS = PROJECT / "bench" / "results" / "pipeline.json"
KIB_PER_MIB = 1024


def environment() -> dict[str, str]:
    return os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MiB) of one command and its children."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=environment(), stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command} failed in {cwd}")
    return elapsed, usage.ru_maxrss / KIB_PER_MIB


def fresh_clone(destination: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(destination)], check=True)
    return destination


def upsampled_source(clone: Path, rows: int, directory: Path) -> Path:
    """The real table resampled with replacement to `rows` rows, with fresh unique ids."""
    raw = clone / yaml.safe_load((clone / "params.yaml").read_text())["paths"]["raw"]
    table = pd.read_parquet(raw)
    generator = np.random.default_rng(0)
    sample = table.iloc[generator.integers(0, len(table), size=rows)].reset_index(drop=True)
    sample["customer_id"] = np.arange(1, rows + 1)
    path = directory / f"upsampled_{rows}.parquet"
    sample.to_parquet(path, index=False)
    return path


def point_params_at(clone: Path, source: Path) -> None:
    params_file = clone / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["data"]["source"] = str(source)
    params["data"]["rename"] = {}
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))


def per_stage(clone: Path) -> dict[str, dict[str, float]]:
    figures = {}
    for stage in STAGES:
        seconds, peak = timed(["mlloop", stage], clone)
        figures[stage] = {"seconds": round(seconds, 2), "peak_mib": round(peak)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--noop-runs", type=int, default=5)
    arguments = parser.parse_args()
    results: dict[str, object] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        clone = fresh_clone(workdir / "cold")
        results["cold_pipeline_seconds"] = round(timed(["dvc", "repro"], clone)[0], 2)
        noop = [timed(["dvc", "repro"], clone)[0] for _ in range(arguments.noop_runs)]
        results["noop_repro_seconds_median"] = round(statistics.median(noop), 2)
        results["scaling"] = {"7043 (real table)": per_stage(clone)}
        for rows in arguments.sizes:
            sized = fresh_clone(workdir / f"rows_{rows}")
            timed(["mlloop", "ingest"], sized)
            point_params_at(sized, upsampled_source(sized, rows, workdir))
            results["scaling"][f"{rows}"] = per_stage(sized)  # type: ignore[index]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
