"""Drift check benchmark, in one run on this machine; `--blocks` chooses what it measures.

accuracy: for each current size, each scenario of params.yaml `simulate.scenarios` and each seed, the
simulator writes a week of traffic ending today (log lines and delayed labels, as `mlloop simulate` does)
into a temporary directory, and the check judges it as `mlloop drift` does: each file summarised, then the
check from the summaries (the data contract, the realised outcomes, every score and the status); with
--exact, line by line as `mlloop drift --exact` does. The run counts how often the status is the scenario's
`expected` one, and which other statuses it got. Per status: detection is the share of runs of the scenarios
expecting it that got it; false alarms, the share of runs of the other scenarios that got it. What every
check shares (the reference, evaluate's probabilities, metrics.json, the customers of the pool params
`simulate.pool` names, the model) is read once per process, and the model is called once per distinct row: a
week resamples the same held-out rows, so its probabilities are cached by the row's hash. `--workers N`
spreads the checks over N processes; each check is timed on its own, so seconds per check do not depend on
N.

agreement: the same weeks judged both ways, line by line and from per-file summaries (what `mlloop
drift` does): the statuses, findings, contract breaches and realised metrics compared, and the
largest gap of each score.

scale: the issue "Drift at production scale" in one run (bench/drift_scale.py): summarising days of
1M, 3M and 10M lines, the 7-day check from the summaries of 70M lines, the cold check of a 1M-line
week beside the same week read line by line, and, with --evidently-python, Evidently end to end on it.

versus: Evidently's DataDriftPreset and this check's statistics on the same frames in memory.

Needs the reproduced pipeline (`dvc repro`) in this working copy. Prints JSON and writes
bench/results/drift.json.

    python bench/drift.py [--blocks accuracy agreement scale versus] [--seeds 200] [--sizes 1000 10000 100000]
        [--scenarios NAME ...] [--workers 1] [--exact] [--scale-sizes 1000000 3000000 10000000] [--pods 4]
        [--week-lines N] [--cold-lines 1000000] [--scratch DIR] [--evidently-python PATH [--versus-sizes 10000 1000000]]

For the comparison, make Evidently's own environment first, e.g.
`python3 -m venv /some/dir && /some/dir/bin/pip install evidently==0.7.23 "pandas<3.1" pyarrow`.
"""

import argparse
import json
import shutil
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

from drift_scale import scale, scratch_folder
from mlloop.config import Params, Status, load_params
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.monitoring import summary_check
from mlloop.monitoring.drift import DriftInputs, check, read_current, read_inputs, score_columns
from mlloop.monitoring.drift_result import DriftResult
from mlloop.monitoring.judgement import PREDICTION, judge, verdict
from mlloop.monitoring.shifts import check_scenarios
from mlloop.monitoring.simulator import LoggedModel, day_traffic, load_logged_model, log_writer, pool_path
from mlloop.monitoring.summaries import Reference, read_reference, read_window_summaries

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results" / "drift.json"
DAYS = 7
START = date(2026, 11, 1)
TASKS_PER_HANDOFF = 4
"""Checks a worker process takes at a time: few, so the last ones spread over the workers too."""


def _inputs() -> tuple[Params, FeatureSchema, pd.DataFrame, pd.DataFrame, pd.Series]:
    """Params, schema, the training split (reference), the simulated customers (the pool of params simulate.pool)
    and evaluate's probabilities."""
    params = load_params(PROJECT / "params.yaml")
    return (
        params,
        load_schema(PROJECT / params.data.schema_file),
        pd.read_parquet(PROJECT / params.paths.train),
        pd.read_parquet(PROJECT / pool_path(params, params.simulate.pool)),
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

    reference: Reference

    def _week(self, directory: str, scenario: str, size: int, seed: int, now: datetime) -> None:
        """One week written as `mlloop simulate` writes it, ending today."""
        settings = self.params.simulate.model_copy(
            update={"scenario": scenario, "days": DAYS, "rows_per_day": size // DAYS, "seed": seed}
        )
        start = now.date() - timedelta(days=DAYS - 1)
        write_day = log_writer(self.model, self.schema, Path(directory))
        rng = np.random.default_rng(seed)
        for day in range(DAYS):
            write_day(day_traffic(self.test, self.schema, settings, day, start, rng))

    def _exact(self, directory: str, now: datetime) -> DriftResult:
        window, labels = read_current(directory, self.schema, self.params.drift, now.date())
        inputs = replace(self.inputs, source=directory, window=window, labels=labels)
        return check(inputs, self.schema, self.params, now)

    def _summarised(self, directory: str, now: datetime) -> DriftResult:
        window = read_window_summaries(directory, self.reference, self.schema, self.params.drift, now.date())
        found = summary_check.findings(
            window, self.reference, directory, self.inputs.test_metrics, self.schema, self.params
        )
        return judge(
            found, self.reference.rows, self.inputs.reference_file, self.inputs.commit, self.schema, self.params, now
        )

    def status(self, scenario: str, size: int, seed: int, exact: bool) -> Status:
        """One week, judged as `mlloop drift` judges it: from summaries, or line by line with `exact`."""
        now = datetime.now(UTC)
        with tempfile.TemporaryDirectory() as directory:
            self._week(directory, scenario, size, seed, now)
            return (self._exact if exact else self._summarised)(directory, now).status

    def agreement(self, scenario: str, size: int, seed: int) -> dict[str, Any]:
        """One week judged both ways, from summaries and exactly: the statuses, and how far each score is apart."""
        now = datetime.now(UTC)
        with tempfile.TemporaryDirectory() as directory:
            self._week(directory, scenario, size, seed, now)
            exact = self._exact(directory, now)
            summarised = self._summarised(directory, now)
        scores = {column.name: column.scores for column in exact.columns}
        gaps: dict[str, float] = defaultdict(float)
        for column in summarised.columns:
            for score in ("wasserstein", "psi", "jensen_shannon", "unseen_share", "null_share_change"):
                ours, theirs = getattr(column.scores, score), getattr(scores[column.name], score)
                if ours is not None and theirs is not None:
                    gaps[score] = max(gaps[score], abs(ours - theirs))
        return {
            "exact": exact.status,
            "summaries": summarised.status,
            "same_findings": exact.findings == summarised.findings,
            "same_contract": exact.contract == summarised.contract,
            "same_realised": exact.realised == summarised.realised,
            "same_drifted": {c.name: c.drifted_by for c in exact.columns}
            == {c.name: c.drifted_by for c in summarised.columns},
            "same_order": [c.name for c in exact.columns] == [c.name for c in summarised.columns],
            "gaps": dict(gaps),
        }


@cache
def _judge() -> _Judge:
    """This process's judge, made on its first check."""
    # One native thread: the model is called on a few rows at a time, where idle OpenMP threads
    # spinning on a shared machine cost a hundred times the prediction itself.
    threadpool_limits(limits=1)
    loaded = load_params(PROJECT / "params.yaml")
    # One process per check: the summaries of a week are read in this worker, not in a pool of its own.
    summaries = loaded.drift.summaries.model_copy(update={"workers": 1})
    params = loaded.model_copy(update={"drift": loaded.drift.model_copy(update={"summaries": summaries})})
    schema = load_schema(PROJECT / params.data.schema_file)
    with tempfile.TemporaryDirectory() as empty_log:
        inputs = read_inputs(params, schema, None, empty_log, datetime.now(UTC))
    model = _memoised(load_logged_model(params))
    reference = read_reference(
        params.paths.train, inputs.reference_file.sha256, params.paths.predictions, schema, params.drift
    )
    customers = pd.read_parquet(PROJECT / pool_path(params, params.simulate.pool))
    return _Judge(params, schema, customers, model, inputs, reference)


def _judged(task: tuple[int, str, int, bool]) -> tuple[Status, float]:
    """One (size, scenario, seed, exact): the status, and the seconds it took."""
    size, scenario, seed, exact = task
    started = time.perf_counter()
    status = _judge().status(scenario, size, seed, exact)
    return status, time.perf_counter() - started


def _agreed(task: tuple[int, str, int]) -> dict[str, Any]:
    size, scenario, seed = task
    return _judge().agreement(scenario, size, seed)


def agreement(seeds: int, sizes: list[int], scenarios: list[str] | None, workers: int) -> dict[str, Any]:
    """Per size and scenario: the weeks judged alike from summaries and exactly, and the largest gap per score."""
    params = load_params(PROJECT / "params.yaml")
    names = scenarios or list(params.simulate.scenarios)
    tasks = [(size, name, seed) for size in sizes for name in names for seed in range(seeds)]
    if workers == 1:
        runs = list(map(_agreed, tasks))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            runs = list(pool.map(_agreed, tasks, chunksize=TASKS_PER_HANDOFF))
    results: dict[str, Any] = {}
    for size in sizes:
        for name in names:
            weeks = [
                run
                for (task_size, task_name, _), run in zip(tasks, runs, strict=True)
                if (task_size, task_name) == (size, name)
            ]
            gaps: dict[str, float] = defaultdict(float)
            for week in weeks:
                for score, gap in week["gaps"].items():
                    gaps[score] = max(gaps[score], gap)
            results[f"{size}/{name}"] = entry = {
                "weeks": len(weeks),
                "same_status": sum(week["exact"] == week["summaries"] for week in weeks),
                "same_everything_judged": sum(
                    week["same_findings"] and week["same_contract"] and week["same_realised"] and week["same_drifted"]
                    for week in weeks
                ),
                "statuses": dict(Counter(week["summaries"] for week in weeks)),
                "largest_gaps": dict(gaps),
            }
            print(size, name, entry, file=sys.stderr, flush=True)
    return results


def _runs(tasks: list[tuple[int, str, int, bool]], workers: int) -> Iterator[tuple[Status, float]]:
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


def accuracy(seeds: int, sizes: list[int], scenarios: list[str] | None, workers: int, exact: bool) -> dict[str, Any]:
    """Per size: each scenario's statuses over the seeds, and each status's detection and false alarms."""
    params = load_params(PROJECT / "params.yaml")
    check_scenarios(params.simulate.scenarios, load_schema(PROJECT / params.data.schema_file), params.data.schema_file)
    names = scenarios or list(params.simulate.scenarios)
    expected = {name: params.simulate.scenarios[name].expected for name in names}
    tasks = [(size, name, seed, exact) for size in sizes for name in names for seed in range(seeds)]
    runs: dict[tuple[int, str], list[tuple[Status, float]]] = defaultdict(list)
    results: dict[str, Any] = {str(size): {"scenarios": {}} for size in sizes}
    for (size, name, _, _), run in zip(tasks, _runs(tasks, workers), strict=True):
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
    parser.add_argument(
        "--blocks",
        nargs="+",
        choices=["accuracy", "agreement", "scale", "versus"],
        default=["accuracy", "scale"],
        help="what to measure (versus needs --evidently-python; scale adds Evidently end to end with it)",
    )
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--scenarios", nargs="+", help="these scenarios of params simulate.scenarios (default: all)")
    parser.add_argument("--workers", type=int, default=1, help="processes the accuracy checks are spread over")
    parser.add_argument("--exact", action="store_true", help="accuracy: judge each week line by line")
    parser.add_argument("--scale-sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--pods", type=int, default=4, help="log files a day, one per pod")
    parser.add_argument(
        "--week-lines",
        type=int,
        help="lines a day of the week checked from summaries, one of --scale-sizes (default: the largest)",
    )
    parser.add_argument("--cold-lines", type=int, default=1_000_000)
    parser.add_argument("--scratch", help="where the scale block writes its logs (default: /tmp)")
    parser.add_argument(
        "--evidently-python", help="a python with evidently==0.7.23 and pandas<3.1 installed: adds the comparison"
    )
    parser.add_argument("--versus-sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    arguments = parser.parse_args()
    results: dict[str, Any] = {}
    if "accuracy" in arguments.blocks:
        results["accuracy"] = accuracy(
            arguments.seeds, arguments.sizes, arguments.scenarios, arguments.workers, arguments.exact
        )
    if "agreement" in arguments.blocks:
        results["agreement"] = agreement(arguments.seeds, arguments.sizes, arguments.scenarios, arguments.workers)
    if "scale" in arguments.blocks:
        threadpool_limits(limits=1)
        params, schema, _, test, _ = _inputs()
        scratch = scratch_folder(arguments.scratch)
        try:
            results["scale"] = scale(
                params,
                schema,
                test,
                _memoised(load_logged_model(params)),
                PROJECT,
                scratch,
                arguments.scale_sizes,
                arguments.week_lines or max(arguments.scale_sizes),
                DAYS,
                arguments.pods,
                arguments.cold_lines,
                arguments.evidently_python,
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if "versus" in arguments.blocks and arguments.evidently_python:
        results["versus_evidently"] = versus_evidently(arguments.evidently_python, arguments.versus_sizes)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
