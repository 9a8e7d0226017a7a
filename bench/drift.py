"""Drift check benchmark, in one run on this machine.

Accuracy: for each current size and seed, a week of simulated traffic per scenario (the
simulator's own scenario functions, in memory) is judged against the training split; the
false-alarm rate on `none` and the detection rate on every other scenario are counted.
Speed: `mlloop drift` end to end (reading the JSONL log included) on a simulated log of about
a million lines, wall time and peak memory from /usr/bin/time.

Needs the reproduced pipeline (`dvc repro`) in this working copy. Prints JSON and writes
bench/results/drift.json.

    python bench/drift.py [--seeds 200] [--sizes 1000 10000 100000] [--speed-rows 1000000]
        [--evidently-python PATH [--versus-sizes 10000 1000000] [--only-versus]]

For the comparison, make Evidently's own environment first, e.g.
`python3 -m venv /some/dir && /some/dir/bin/pip install evidently==0.7.23 "pandas<3.1" pyarrow`.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlloop.config import Params, Scenario, load_params
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.monitoring.drift import PREDICTION, score_columns, verdict
from mlloop.monitoring.simulator import SCENARIOS, day_traffic
from mlloop.serving.inference_log import LOG_FILE_GLOB

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results" / "drift.json"
DAYS = 7
START = date(2026, 11, 1)


def _inputs() -> tuple[Params, FeatureSchema, pd.DataFrame, pd.DataFrame, pd.Series]:
    """Params, schema, the training split (reference), the test split (customers) and evaluate's probabilities."""
    params = load_params(PROJECT / "params.yaml")
    return (
        params,
        load_schema(PROJECT / params.data.schema_file),
        pd.read_parquet(PROJECT / params.paths.train),
        pd.read_parquet(PROJECT / params.paths.test),
        pd.read_parquet(PROJECT / params.paths.predictions)[PREDICTION],
    )


def _week(
    params: Params,
    test: pd.DataFrame,
    schema: FeatureSchema,
    scenario: Scenario,
    size: int,
    seed: int,
    predictions: pd.Series,
) -> pd.DataFrame:
    """A simulated week of `size` rows; the predicted probability, outside the verdict, is the model's own."""
    settings = params.simulate.model_copy(
        update={"scenario": scenario, "days": DAYS, "rows_per_day": size // DAYS, "seed": seed}
    )
    rng = np.random.default_rng(seed)
    week = pd.concat(
        [day_traffic(test, schema, settings, day, START, rng).features for day in range(DAYS)], ignore_index=True
    )
    week[PREDICTION] = predictions.sample(len(week), replace=True, random_state=seed).to_numpy()
    return week


def accuracy(seeds: int, sizes: list[int]) -> dict[str, Any]:
    params, schema, reference, test, predictions = _inputs()
    results: dict[str, Any] = {}
    for size in sizes:
        results[str(size)] = {}
        for scenario in SCENARIOS:
            flagged = 0
            started = time.perf_counter()
            for seed in range(seeds):
                week = _week(params, test, schema, scenario, size, seed, predictions)
                status, _ = verdict(
                    score_columns(reference, week, predictions, schema, params.drift), len(week), params.drift
                )
                flagged += status == "drift"
            results[str(size)][scenario] = {
                "drift_rate": flagged / seeds,
                "seconds_per_check": (time.perf_counter() - started) / seeds,
            }
            print(size, scenario, results[str(size)][scenario], file=sys.stderr)
    return results


def speed(rows: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "log"
        tools = Path(sys.executable).parent
        subprocess.run(
            [tools / "mlloop", "simulate", "--scenario", "price_increase", "--days", str(DAYS),
             "--rows-per-day", str(rows // DAYS), "--out", str(log)],
            cwd=PROJECT, check=True, capture_output=True,
        )  # fmt: skip
        timed = subprocess.run(
            ["/usr/bin/time", "-f", "%e %M", tools / "mlloop", "drift",
             "--current", str(log), "--out", f"{directory}/out"],
            cwd=PROJECT, check=True, capture_output=True, text=True,
        )  # fmt: skip
        seconds, kilobytes = re.findall(r"^([\d.]+) (\d+)$", timed.stderr, re.MULTILINE)[-1]
        lines = sum(1 for path in log.glob(LOG_FILE_GLOB) for _ in path.open("rb"))
        return {"log_lines": lines, "seconds": float(seconds), "peak_memory_mib": int(kilobytes) / 1024}


def versus_evidently(evidently_python: str, sizes: list[int]) -> dict[str, Any]:
    """Both checks on the same in-memory frames, timed around the statistics only, one after the other."""
    params, schema, reference, test, predictions = _inputs()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        reference[schema.feature_names].to_parquet(scratch / "reference.parquet")
        columns = {"numerical": list(schema.numeric_features), "categorical": list(schema.categorical_features)}
        (scratch / "columns.json").write_text(json.dumps(columns))
        for size in sizes:
            for scenario in ("none", "price_increase"):
                week = _week(params, test, schema, scenario, size, 0, predictions)
                week[schema.feature_names].to_parquet(scratch / "current.parquet")
                started = time.perf_counter()
                scored = score_columns(reference, week, predictions, schema, params.drift)
                status, reasons = verdict(scored, len(week), params.drift)
                ours = time.perf_counter() - started
                peer = json.loads(
                    subprocess.run(
                        [evidently_python, PROJECT / "bench" / "evidently_peer.py", scratch / "reference.parquet",
                         scratch / "current.parquet", scratch / "columns.json"],
                        check=True, capture_output=True, text=True,
                    ).stdout
                )  # fmt: skip
                results[f"{size}/{scenario}"] = {
                    "mlloop": {"seconds": ours, "status": status, "reasons": reasons},
                    "evidently": peer,
                    "speedup": peer["seconds"] / ours,
                }
                print(size, scenario, results[f"{size}/{scenario}"], file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--speed-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--evidently-python", help="a python with evidently==0.7.23 and pandas<3.1 installed: adds the comparison"
    )
    parser.add_argument("--versus-sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--only-versus", action="store_true", help="only the comparison with Evidently")
    arguments = parser.parse_args()
    results: dict[str, Any] = {}
    if not arguments.only_versus:
        results = {"accuracy": accuracy(arguments.seeds, arguments.sizes), "speed": speed(arguments.speed_rows)}
    if arguments.evidently_python:
        results["versus_evidently"] = versus_evidently(arguments.evidently_python, arguments.versus_sizes)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
