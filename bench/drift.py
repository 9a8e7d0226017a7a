"""Drift check benchmark, in one run on this machine.

Accuracy: for each current size, each scenario of params.yaml `simulate.scenarios` and each seed,
the simulator writes a week of traffic ending today (log lines and delayed labels, as `mlloop
simulate` does) into a temporary directory, and the check judges it as `mlloop drift` does
(drift.read_current, then drift.check: the log reader, the data contract, the realised outcomes,
every score and the status). The run counts how often the status is the scenario's `expected`
one, and which other statuses it got. Per status: detection is the share of runs of the scenarios
expecting it that got it; false alarms, the share of runs of the other scenarios that got it. What
every check shares (the reference, evaluate's probabilities, metrics.json, the test split, the
model) is read once per process, and the model is called once per distinct row: a week resamples
the same held-out rows, so its probabilities are cached by the row's hash. `--workers N` spreads
the checks over N processes; each check is timed on its own, so seconds per check do not depend on N.
Speed: `mlloop drift` end to end (reading the JSONL log included) on a simulated log of about
a million lines, wall time and peak memory from /usr/bin/time.

Needs the reproduced pipeline (`dvc repro`) in this working copy. Prints JSON and writes
bench/results/drift.json.

    python bench/drift.py [--seeds 200] [--sizes 1000 10000 100000] [--scenarios NAME ...] [--workers 1]
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
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from mlloop.config import Params, Status, load_params
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.monitoring.drift import DriftInputs, check, read_current, read_inputs, score_columns
from mlloop.monitoring.judgement import PREDICTION, verdict
from mlloop.monitoring.shifts import check_scenarios
from mlloop.monitoring.simulator import LoggedModel, day_traffic, load_logged_model, log_writer
from mlloop.serving.inference_log import LOG_FILE_GLOB

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results" / "drift.json"
DAYS = 7
START = date(2026, 11, 1)
TASKS_PER_HANDOFF = 4
"""Checks a worker process takes at a time: few, so the last ones spread over the workers too."""


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


@dataclass(frozen=True)
class _Judge:
    """What every check of a run shares, read once per process: params, the schema, the test split, the model
    (memoised) and the check's inputs but the log (the reference, evaluate's probabilities, metrics.json)."""

    params: Params
    schema: FeatureSchema
    test: pd.DataFrame
    model: LoggedModel
    inputs: DriftInputs

    def status(self, scenario: str, size: int, seed: int) -> Status:
        """One week written as `mlloop simulate` writes it, ending today, and judged as `mlloop drift` judges it."""
        settings = self.params.simulate.model_copy(
            update={"scenario": scenario, "days": DAYS, "rows_per_day": size // DAYS, "seed": seed}
        )
        now = datetime.now(UTC)
        start = now.date() - timedelta(days=DAYS - 1)
        with tempfile.TemporaryDirectory() as directory:
            write_day = log_writer(self.model, self.schema, Path(directory))
            rng = np.random.default_rng(seed)
            for day in range(DAYS):
                write_day(day_traffic(self.test, self.schema, settings, day, start, rng))
            window, labels = read_current(directory, self.schema, self.params.drift, now.date())
        inputs = replace(self.inputs, source=directory, window=window, labels=labels)
        return check(inputs, self.schema, self.params, now).status


@cache
def _judge() -> _Judge:
    """This process's judge, made on its first check."""
    # One native thread: the model is called on a few rows at a time, where idle OpenMP threads
    # spinning on a shared machine cost a hundred times the prediction itself.
    threadpool_limits(limits=1)
    params = load_params(PROJECT / "params.yaml")
    schema = load_schema(PROJECT / params.data.schema_file)
    with tempfile.TemporaryDirectory() as empty_log:
        inputs = read_inputs(params, schema, None, empty_log, datetime.now(UTC))
    model = _memoised(load_logged_model(params))
    return _Judge(params, schema, pd.read_parquet(PROJECT / params.paths.test), model, inputs)


def _judged(task: tuple[int, str, int]) -> tuple[Status, float]:
    """One (size, scenario, seed): the status, and the seconds it took."""
    size, scenario, seed = task
    started = time.perf_counter()
    status = _judge().status(scenario, size, seed)
    return status, time.perf_counter() - started


def _runs(tasks: list[tuple[int, str, int]], workers: int) -> Iterator[tuple[Status, float]]:
    """Each task's status and seconds, in order: in this process, or spread over `workers` processes."""
    if workers == 1:
        yield from map(_judged, tasks)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_judged, tasks, chunksize=TASKS_PER_HANDOFF)


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


def accuracy(seeds: int, sizes: list[int], scenarios: list[str] | None, workers: int) -> dict[str, Any]:
    """Per size: each scenario's statuses over the seeds, and each status's detection and false alarms."""
    params = load_params(PROJECT / "params.yaml")
    check_scenarios(params.simulate.scenarios, load_schema(PROJECT / params.data.schema_file), params.data.schema_file)
    names = scenarios or list(params.simulate.scenarios)
    expected = {name: params.simulate.scenarios[name].expected for name in names}
    tasks = [(size, name, seed) for size in sizes for name in names for seed in range(seeds)]
    runs: dict[tuple[int, str], list[tuple[Status, float]]] = defaultdict(list)
    results: dict[str, Any] = {str(size): {"scenarios": {}} for size in sizes}
    for (size, name, _), run in zip(tasks, _runs(tasks, workers), strict=True):
        runs[size, name].append(run)
        if len(runs[size, name]) < seeds:
            continue
        statuses = Counter(status for status, _ in runs[size, name])
        results[str(size)]["scenarios"][name] = scenario = {
            "expected": expected[name],
            "hit_rate": statuses[expected[name]] / seeds,
            "statuses": dict(statuses),
            "seconds_per_check": sum(seconds for _, seconds in runs[size, name]) / seeds,
        }
        print(size, name, scenario, file=sys.stderr, flush=True)
    for by_size in results.values():
        by_size["statuses"] = _per_status(by_size["scenarios"], expected, seeds)
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
    parser.add_argument("--workers", type=int, default=1, help="processes the accuracy checks are spread over")
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
        results = {"accuracy": accuracy(arguments.seeds, arguments.sizes, arguments.scenarios, arguments.workers)}
        if not arguments.no_speed:
            results["speed"] = speed(arguments.speed_rows)
    if arguments.evidently_python:
        results["versus_evidently"] = versus_evidently(arguments.evidently_python, arguments.versus_sizes)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
