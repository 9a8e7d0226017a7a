"""Drift check benchmark, in one run on this machine.

Accuracy: for each current size, each scenario of params.yaml `simulate.scenarios` and each seed,
the simulator writes a week of traffic ending today (log lines and delayed labels, as `mlloop
simulate` does) into a temporary directory, and the check judges it as `mlloop drift` does
(drift.read_inputs, then drift.check: the log reader, the data contract, the realised outcomes,
every score and the status). The run counts how often the status is the scenario's `expected` one, and which other
statuses it got. Per status: detection is the share of runs of the scenarios expecting it that got
it; false alarms, the share of runs of the other scenarios that got it. The model is called once per distinct
row: a week resamples the same held-out rows, so its probabilities are cached by the row's hash.
Speed: `mlloop drift` end to end (reading the JSONL log included) on a simulated log of about
a million lines, wall time and peak memory from /usr/bin/time.

Needs the reproduced pipeline (`dvc repro`) in this working copy. Prints JSON and writes
bench/results/drift.json.

    python bench/drift.py [--seeds 200] [--sizes 1000 10000 100000] [--scenarios NAME ...]
        [--speed-rows 1000000 | --no-speed]
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
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from mlloop.config import Params, Status, load_params
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.monitoring.drift import PREDICTION, check, read_inputs, score_columns, verdict
from mlloop.monitoring.shifts import check_scenarios
from mlloop.monitoring.simulator import LoggedModel, day_traffic, load_logged_model, log_writer
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
    scenario: str,
    size: int,
    seed: int,
    predictions: pd.Series,
) -> pd.DataFrame:
    """A simulated week of `size` rows in memory; the predicted probability, outside the verdict, is the model's own."""
    settings = params.simulate.model_copy(
        update={"scenario": scenario, "days": DAYS, "rows_per_day": size // DAYS, "seed": seed}
    )
    rng = np.random.default_rng(seed)
    week = pd.concat(
        [day_traffic(test, schema, settings, day, START, rng).features for day in range(DAYS)], ignore_index=True
    )
    week[PREDICTION] = predictions.sample(len(week), replace=True, random_state=seed).to_numpy()
    return week


def _memoised(model: LoggedModel) -> LoggedModel:
    """The same model, called only on rows it has not seen: probabilities cached by each row's hash."""
    known = pd.Series(index=pd.Index([], dtype="uint64"), dtype="float64")

    def predict(features: pd.DataFrame) -> NDArray[np.float64]:
        nonlocal known
        keys = pd.util.hash_pandas_object(features, index=False).to_numpy()
        new = ~pd.Index(keys).isin(known.index) & ~pd.Index(keys).duplicated()
        if new.any():
            known = pd.concat([known, pd.Series(model.predict(features[new]), index=keys[new])])
        return known.reindex(keys).to_numpy()

    return LoggedModel(predict=predict, threshold=model.threshold, version=model.version)


def _judged(
    params: Params, schema: FeatureSchema, test: pd.DataFrame, model: LoggedModel, scenario: str, size: int, seed: int
) -> Status:
    """One week written as `mlloop simulate` writes it, ending today, and judged as `mlloop drift` judges it."""
    settings = params.simulate.model_copy(
        update={"scenario": scenario, "days": DAYS, "rows_per_day": size // DAYS, "seed": seed}
    )
    now = datetime.now(UTC)
    start = now.date() - timedelta(days=DAYS - 1)
    with tempfile.TemporaryDirectory() as directory:
        write_day = log_writer(model, schema, Path(directory))
        rng = np.random.default_rng(seed)
        for day in range(DAYS):
            write_day(day_traffic(test, schema, settings, day, start, rng))
        inputs = read_inputs(params, schema, None, directory, now)
    return check(inputs, schema, params, now).status


def _per_status(results: dict[str, Any], expected: Mapping[str, Status], seeds: int) -> dict[str, Any]:
    """Per status the scenarios expect, over one size's runs: detection (the runs of the scenarios expecting it
    that got it) and false alarms (the runs of the other scenarios that got it; for no_drift, alerts missed);
    None when no other scenario was run."""

    def rate(status: Status, names: list[str]) -> float | None:
        hits: int = sum(results[name]["statuses"].get(status, 0) for name in names)
        return hits / (seeds * len(names)) if names else None

    return {
        status: {
            "scenarios": [name for name in results if expected[name] == status],
            "detection": rate(status, [name for name in results if expected[name] == status]),
            "false_alarms": rate(status, [name for name in results if expected[name] != status]),
        }
        for status in sorted(set(expected.values()))
    }


def accuracy(seeds: int, sizes: list[int], scenarios: list[str] | None) -> dict[str, Any]:
    """Per size: each scenario's statuses over the seeds, and each status's detection and false alarms."""
    params, schema, _, test, _ = _inputs()
    # One native thread: the model is called on a few rows at a time, where idle OpenMP threads
    # spinning on a shared machine cost a hundred times the prediction itself.
    threadpool_limits(limits=1)
    check_scenarios(params.simulate.scenarios, schema, params.data.schema_file)
    model = _memoised(load_logged_model(params))
    names = scenarios or list(params.simulate.scenarios)
    expected = {name: params.simulate.scenarios[name].expected for name in names}
    results: dict[str, Any] = {}
    for size in sizes:
        by_scenario: dict[str, Any] = {}
        for name in names:
            started = time.perf_counter()
            statuses = Counter(_judged(params, schema, test, model, name, size, seed) for seed in range(seeds))
            by_scenario[name] = {
                "expected": expected[name],
                "hit_rate": statuses[expected[name]] / seeds,
                "statuses": dict(statuses),
                "seconds_per_check": (time.perf_counter() - started) / seeds,
            }
            print(size, name, by_scenario[name], file=sys.stderr)
        results[str(size)] = {"scenarios": by_scenario, "statuses": _per_status(by_scenario, expected, seeds)}
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
    parser.add_argument("--scenarios", nargs="+", help="these scenarios of params simulate.scenarios (default: all)")
    parser.add_argument("--speed-rows", type=int, default=1_000_000)
    parser.add_argument("--no-speed", action="store_true", help="accuracy only")
    parser.add_argument(
        "--evidently-python", help="a python with evidently==0.7.23 and pandas<3.1 installed: adds the comparison"
    )
    parser.add_argument("--versus-sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--only-versus", action="store_true", help="only the comparison with Evidently")
    arguments = parser.parse_args()
    results: dict[str, Any] = {}
    if not arguments.only_versus:
        results = {"accuracy": accuracy(arguments.seeds, arguments.sizes, arguments.scenarios)}
        if not arguments.no_speed:
            results["speed"] = speed(arguments.speed_rows)
    if arguments.evidently_python:
        results["versus_evidently"] = versus_evidently(arguments.evidently_python, arguments.versus_sizes)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
