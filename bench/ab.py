"""Champion/challenger decision benchmark, in one run on this machine.

For each ground truth, each mode (shadow, split), each number of labelled rows per variant and each
seed, the simulator writes an evidence window of traffic (params ab.decision.evidence_days days, log
lines and delayed labels, as `mlloop simulate --challenger` does) into a temporary directory, and the
report decides on it as `mlloop ab-report` does (drift.read_current, then ab_report.check), with the
rule and thresholds in params.yaml. The run counts how often each ground truth is promoted.

A ground truth is a traffic scenario and a pair of models, trained here with the project's own code
on the training split (so no customer of the traffic was trained on), the champion first:
- better: 30 % of the month-to-month customers are logged on a one-year contract, and behave as before
  (a relabel, declared here); the champion is the pipeline's model, the challenger the same recipe
  trained on the training split relabelled the same way, as a model retrained on that traffic would be;
- slightly_better: params' price_increase scenario; the champion is the pipeline's model, the challenger
  trained on the training split with the same price rise;
- slightly_worse: the same two models the other way round;
- worse: no shift; the challenger is trained on the training split with 20 % of its labels flipped;
- equal: no shift; the challenger is the champion.
The margin of each is the challenger's ROC AUC minus the champion's on the traffic's customers (the
test split) under the scenario's shift, the shift drawn 50 times over: what the variants' rows are
samples of.

In split mode the bench serves the challenger to half of the rows, not params' challenger_share, so
that both variants have about the same number of rows. The number given is per variant: in shadow
mode each day's rows are rounded up to a whole number (a run holds up to 6 more); in split mode a run
holds four binomial standard deviations more, so that both variants reach it. The models are called once per
distinct row (their probabilities are cached by the row's hash), on one native thread. `--workers N`
spreads the runs over N processes; each run is timed on its own.

Needs the reproduced pipeline (`dvc repro`) in this working copy. Prints JSON and writes
bench/results/ab.json.

    python bench/ab.py [--seeds 200] [--sizes 1000 2000 5000 10000 20000] [--truths NAME ...]
        [--modes shadow split] [--workers 1] [--results bench/results/ab.json]
"""

import argparse
import json
import math
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import TypeAdapter
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from mlloop.config import Params, ScenarioParams, load_params
from mlloop.core.model import build_pipeline, fit
from mlloop.core.schema import FeatureSchema, features_and_label, load_schema
from mlloop.monitoring.ab_report import check
from mlloop.monitoring.drift import read_current
from mlloop.monitoring.shifts import shift_day
from mlloop.monitoring.simulator import LoggedModel, ServedChallenger, day_traffic, log_writer
from mlloop.pipeline.evaluation import churn_probability
from mlloop.storage.artifacts import load_model

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results" / "ab.json"
START = date(2026, 11, 1)
SPLIT_SHARE = 0.5
MARGIN_DRAWS = 50
DAMAGED_LABELS = 0.2
TASKS_PER_HANDOFF = 4
RELABEL = {
    "expected": "drift",
    "shifts": [
        {"kind": "move_labels", "column": "contract", "from_labels": ["Month-to-month"], "to_label": "One year",
         "share": 0.3},
    ],
}  # fmt: skip
"""30 % of the month-to-month customers logged on a one-year contract: the champion trusts the contract."""


@dataclass(frozen=True)
class Truth:
    """A ground truth: the traffic's scenario and the two models, by recipe."""

    scenario: str
    champion: str
    challenger: str


TRUTHS = {
    "better": Truth("relabel", "pipeline", "retrained:relabel"),
    "slightly_better": Truth("price_increase", "pipeline", "retrained:price_increase"),
    "slightly_worse": Truth("price_increase", "retrained:price_increase", "pipeline"),
    "worse": Truth("none", "pipeline", "damaged_labels"),
    "equal": Truth("none", "pipeline", "pipeline"),
}


@cache
def _setting() -> tuple[Params, FeatureSchema, pd.DataFrame, pd.DataFrame]:
    """Params (with the relabel scenario declared), the schema, the training split and the test split."""
    threadpool_limits(limits=1)  # idle OpenMP threads spinning on a shared machine cost more than the model
    params = load_params(PROJECT / "params.yaml")
    scenarios = params.simulate.scenarios | {"relabel": TypeAdapter(ScenarioParams).validate_python(RELABEL)}
    params = params.model_copy(update={"simulate": params.simulate.model_copy(update={"scenarios": scenarios})})
    schema = load_schema(PROJECT / params.data.schema_file)
    return params, schema, pd.read_parquet(PROJECT / params.paths.train), pd.read_parquet(PROJECT / params.paths.test)


def _shifted(features: pd.DataFrame, scenario: str, seed: int) -> pd.DataFrame:
    params, schema, _, _ = _setting()
    rng = np.random.default_rng(seed)
    return shift_day(features, params.simulate.scenarios[scenario], schema, 0, 1, rng).features


@cache
def _pipeline(recipe: str) -> Pipeline:
    """A model by recipe: the pipeline's own, or trained here on the training split, shifted or damaged."""
    params, schema, train, _ = _setting()
    if recipe == "pipeline":
        return load_model(PROJECT / params.paths.model)
    features, label = features_and_label(train, schema)
    if recipe.startswith("retrained:"):
        features = _shifted(features, recipe.removeprefix("retrained:"), seed=0)
    elif recipe == "damaged_labels":
        flipped = np.random.default_rng(0).random(len(label)) < DAMAGED_LABELS
        label = label.where(~flipped, 1 - label)
    return fit(build_pipeline(schema, params.train.estimator, params.train.hyperparameters, params.train.seed),
               features, label)  # fmt: skip


@cache
def _predict(recipe: str) -> Callable[[pd.DataFrame], NDArray[np.float64]]:
    """The model, called only on rows it has not seen: probabilities cached by each row's hash."""
    pipeline = _pipeline(recipe)
    known = pd.Series(index=pd.Index([], dtype="uint64"), dtype="float64")

    def predict(features: pd.DataFrame) -> NDArray[np.float64]:
        nonlocal known
        keys = pd.util.hash_pandas_object(features, index=False).to_numpy()
        new = ~pd.Index(keys).isin(known.index) & ~pd.Index(keys).duplicated()
        if new.any():
            known = pd.concat([known, pd.Series(churn_probability(pipeline, features[new]), index=keys[new])])
        return known.reindex(keys).to_numpy()

    return predict


def _model(recipe: str, variant: str) -> LoggedModel:
    """The model as one variant serves it: its version names both, so one model can be both variants."""
    return LoggedModel(_predict(recipe), _setting()[0].train.threshold, f"bench:{variant}:{recipe}")


def margin(truth: Truth) -> dict[str, float]:
    """Each model's ROC AUC on the test split's customers under the scenario, drawn MARGIN_DRAWS times over."""
    _, schema, _, test = _setting()
    features, label = features_and_label(test, schema)
    many = pd.concat([features] * MARGIN_DRAWS, ignore_index=True)
    shifted = _shifted(many, truth.scenario, seed=1)
    labels = np.tile(label.to_numpy(), MARGIN_DRAWS)
    champion = roc_auc_score(labels, churn_probability(_pipeline(truth.champion), shifted))
    challenger = roc_auc_score(labels, churn_probability(_pipeline(truth.challenger), shifted))
    return {"champion_roc_auc": champion, "challenger_roc_auc": challenger, "margin": challenger - champion}


@dataclass(frozen=True)
class Run:
    """One report's decision and the numbers behind it."""

    decision: str
    improvement_bound: float | None
    delta: float | None
    labelled_rows: list[int]
    floors_met: bool
    seconds: float


def _run(task: tuple[str, str, int, int]) -> Run:
    """One evidence window written as `mlloop simulate --challenger` writes it, and decided on as `mlloop ab-report`."""
    name, mode, size, seed = task
    started = time.perf_counter()
    params, schema, _, test = _setting()
    truth = TRUTHS[name]
    settings = params.ab.decision
    days = settings.evidence_days
    # In split mode each variant's rows are binomial: four standard deviations more keep both at `size` or above.
    rows = size if mode == "shadow" else math.ceil((size + 4 * math.sqrt(size * (1 - SPLIT_SHARE))) / SPLIT_SHARE)
    simulate = params.simulate.model_copy(
        update={"scenario": truth.scenario, "days": days, "rows_per_day": math.ceil(rows / days), "seed": seed}
    )
    ab = params.ab.model_copy(update={"mode": mode, "challenger_share": SPLIT_SHARE})
    today = START + timedelta(days=days - 1)
    with tempfile.TemporaryDirectory() as directory:
        challenger = ServedChallenger(_model(truth.challenger, "challenger"), ab)
        write_day = log_writer(_model(truth.champion, "champion"), schema, Path(directory), challenger)
        rng = np.random.default_rng(seed)
        for day in range(days):
            write_day(day_traffic(test, schema, simulate, day, START, rng))
        window, labels = read_current(directory, schema, params.drift.model_copy(update={"window_days": days}), today)
    result = check(window, labels, directory, params, commit=None)
    difference = result.difference
    return Run(
        decision=result.decision,
        improvement_bound=None if difference is None else difference.improvement_bound,
        delta=None if difference is None else difference.delta,
        labelled_rows=[variant.labelled_rows for variant in result.variants],
        floors_met=all(floor.met for floor in result.floors),
        seconds=time.perf_counter() - started,
    )


def _runs(tasks: list[tuple[str, str, int, int]], workers: int) -> Iterator[Run]:
    if workers == 1:
        yield from map(_run, tasks)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_run, tasks, chunksize=TASKS_PER_HANDOFF)


def _summary(runs: list[Run]) -> dict[str, Any]:
    decisions = Counter(run.decision for run in runs)
    bounds = [run.improvement_bound for run in runs if run.improvement_bound is not None]
    return {
        "promotion_rate": decisions["promote"] / len(runs),
        "decisions": dict(decisions),
        "improvement_bound_median": float(np.median(bounds)) if bounds else None,
        "delta_median": float(np.median([run.delta for run in runs if run.delta is not None])) if bounds else None,
        "floors_missed": sum(not run.floors_met for run in runs),
        "labelled_rows_median": np.median([run.labelled_rows for run in runs if run.labelled_rows], axis=0).tolist(),
        "seconds_per_run": sum(run.seconds for run in runs) / len(runs),
        "improvement_bounds": bounds,
    }


def decision_quality(seeds: int, sizes: list[int], truths: list[str], modes: list[str], workers: int) -> dict[str, Any]:
    """Per ground truth: its margin, and per mode and size the decisions over the seeds."""
    results: dict[str, Any] = {name: {"margin": margin(TRUTHS[name]), "modes": {}} for name in truths}
    for name in truths:
        print(name, results[name]["margin"], file=sys.stderr, flush=True)
    tasks = [(name, mode, size, seed) for size in sizes for name in truths for mode in modes for seed in range(seeds)]
    runs: dict[tuple[str, str, int], list[Run]] = defaultdict(list)
    for (name, mode, size, _), run in zip(tasks, _runs(tasks, workers), strict=True):
        runs[name, mode, size].append(run)
        if len(runs[name, mode, size]) == seeds:
            summary = _summary(runs[name, mode, size])
            results[name]["modes"].setdefault(mode, {})[str(size)] = summary
            print(name, mode, size, _without_bounds(summary), file=sys.stderr, flush=True)
    return results


def _without_bounds(document: Any) -> Any:
    """The results as printed: without each run's bound, which only the JSON file keeps."""
    if isinstance(document, dict):
        return {key: _without_bounds(value) for key, value in document.items() if key != "improvement_bounds"}
    return document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000, 10000, 20000])
    parser.add_argument("--truths", nargs="+", choices=TRUTHS, default=list(TRUTHS))
    parser.add_argument("--modes", nargs="+", choices=["shadow", "split"], default=["shadow", "split"])
    parser.add_argument("--workers", type=int, default=1, help="processes the runs are spread over")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes (default: %(default)s)")
    arguments = parser.parse_args()
    params = _setting()[0]
    results = {
        "rule": params.ab.decision.model_dump(mode="json"),
        "split_share": SPLIT_SHARE,
        "truths": decision_quality(
            arguments.seeds, arguments.sizes, arguments.truths, arguments.modes, arguments.workers
        ),
    }
    arguments.results.parent.mkdir(exist_ok=True)
    arguments.results.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(_without_bounds(results), indent=2))


if __name__ == "__main__":
    main()
