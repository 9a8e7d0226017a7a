"""
serving_cost: both models timed in turn on the same rows, and the PR / baseline time ratio with a
seeded bootstrap interval. Fake models advance a fake clock, so every ratio here is exact.
"""

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from tests.fake_clock import FakeClock

from mlloop.config import ServingCostParams
from mlloop.review.serving_cost import (
    Predict,
    RatioInterval,
    Timings,
    Workload,
    measure,
    paired_ratio,
    time_in_turn,
)

SETTINGS = ServingCostParams(
    single_row_calls=60, batch_rows=7, batch_calls=40, warmup_calls=2, resamples=1000, confidence=0.95, seed=42
)
FEATURES = pd.DataFrame({"tenure": [1, 2, 3], "monthly_charges": [10.0, 20.0, 30.0]})


def _fake_model(clock: FakeClock, milliseconds_per_row: float, noise_seed: int) -> Predict:
    """A model whose call takes its cost per row, give or take 20% of seeded jitter."""
    jitter = np.random.default_rng(noise_seed)

    def predict(rows: pd.DataFrame) -> None:
        clock.sleep(milliseconds_per_row * len(rows) * jitter.uniform(0.8, 1.2))

    return predict


def _measure(pr_ms: float, baseline_ms: float | None) -> tuple[Workload, Workload]:
    clock = FakeClock()
    baseline = None if baseline_ms is None else _fake_model(clock, baseline_ms, noise_seed=2)
    cost = measure(_fake_model(clock, pr_ms, noise_seed=1), baseline, FEATURES, SETTINGS, clock=clock)
    return cost.single_row, cost.batch


def test_a_model_three_times_slower_gives_a_ratio_interval_around_three() -> None:
    for workload in _measure(pr_ms=3.0, baseline_ms=1.0):
        ratio = workload.ratio
        assert ratio is not None
        assert ratio.low < 3 < ratio.high, ratio
        assert 2.5 < ratio.low <= ratio.observed <= ratio.high < 3.5, ratio
        assert ratio.verdict == "slower"


def test_identical_models_give_an_interval_containing_one() -> None:
    for workload in _measure(pr_ms=1.0, baseline_ms=1.0):
        ratio = workload.ratio
        assert ratio is not None
        assert ratio.low < 1 < ratio.high, ratio
        assert ratio.verdict == "within noise"


def test_a_faster_model_is_said_to_be_faster() -> None:
    single_row, _ = _measure(pr_ms=0.5, baseline_ms=1.0)

    assert single_row.ratio is not None
    assert single_row.ratio.high < 1
    assert single_row.ratio.verdict == "faster"


def test_a_busy_moment_that_slows_both_calls_of_a_turn_cancels_in_the_ratio() -> None:
    # given: every third turn (two calls, one per model), the machine is ten times slower
    clock = FakeClock()
    calls_made = [0]

    def model(milliseconds: float) -> Callable[[], None]:
        def call() -> None:
            busy = (calls_made[0] // 2) % 3 == 0
            clock.sleep(milliseconds * (10 if busy else 1))
            calls_made[0] += 1

        return call

    pr, base = time_in_turn([model(3.0), model(1.0)], repetitions=30, warmup=0, seed=1, clock=clock)

    ratio = paired_ratio(pr, base, resamples=500, confidence=0.95, seed=1)
    assert max(pr.milliseconds) == pytest.approx(30.0), "the busy turns really were slower"
    assert (ratio.observed, ratio.low, ratio.high) == pytest.approx((3.0, 3.0, 3.0))


def test_each_turn_calls_every_model_once_in_a_seeded_random_order() -> None:
    def orders(seed: int) -> list[str]:
        calls: list[str] = []
        time_in_turn(
            [lambda: calls.append("pr"), lambda: calls.append("baseline")],
            repetitions=20,
            warmup=0,
            seed=seed,
            clock=time.perf_counter,
        )
        return calls

    calls = orders(seed=3)
    turns = [tuple(calls[index : index + 2]) for index in range(0, len(calls), 2)]
    assert all(sorted(turn) == ["baseline", "pr"] for turn in turns), turns
    assert {turn[0] for turn in turns} == {"pr", "baseline"}, "each model must sometimes go first"
    assert orders(seed=3) == calls, "the same seed gives the same order"
    assert orders(seed=4) != calls, "the order comes from the seed"


def test_warmup_calls_are_made_but_not_timed() -> None:
    made = {"pr": 0, "baseline": 0}

    def count(name: str) -> None:
        made[name] += 1

    pr, base = time_in_turn(
        [lambda: count("pr"), lambda: count("baseline")], repetitions=5, warmup=3, seed=0, clock=time.perf_counter
    )

    assert made == {"pr": 8, "baseline": 8}
    assert (len(pr.milliseconds), len(base.milliseconds)) == (5, 5)


def test_both_models_score_the_same_rows_one_row_and_a_batch_cycling_through_the_table() -> None:
    seen: dict[str, list[list[int]]] = {"pr": [], "baseline": []}

    def recording(name: str) -> Predict:
        return lambda rows: seen[name].append(rows["tenure"].tolist())

    measure(recording("pr"), recording("baseline"), FEATURES, SETTINGS)

    assert seen["pr"] == seen["baseline"]
    single_row_calls = SETTINGS.warmup_calls + SETTINGS.single_row_calls
    assert seen["pr"][:single_row_calls] == [[1]] * single_row_calls
    assert seen["pr"][single_row_calls:] == [[1, 2, 3, 1, 2, 3, 1]] * (SETTINGS.warmup_calls + SETTINGS.batch_calls)


def test_without_a_baseline_the_pr_is_timed_alone_and_the_note_says_why() -> None:
    clock = FakeClock()

    cost = measure(_fake_model(clock, 2.0, noise_seed=1), None, FEATURES, SETTINGS, "no baseline model", clock)

    assert cost.note == "no baseline model"
    for workload in cost.workloads.values():
        assert (workload.baseline, workload.ratio) == (None, None)
        assert 1.6 * workload.rows <= workload.pull_request.p50 <= 2.4 * workload.rows
    assert cost.single_row.calls == SETTINGS.single_row_calls
    assert cost.batch.calls == SETTINGS.batch_calls


def test_the_interval_is_reproducible_from_its_seed() -> None:
    jitter = np.random.default_rng(0)
    pr = Timings(tuple(jitter.uniform(2, 4, 50)))
    base = Timings(tuple(jitter.uniform(1, 2, 50)))

    first = paired_ratio(pr, base, resamples=300, confidence=0.9, seed=7)

    assert paired_ratio(pr, base, resamples=300, confidence=0.9, seed=7) == first
    assert paired_ratio(pr, base, resamples=300, confidence=0.9, seed=8) != first
    assert (first.confidence, first.resamples) == (0.9, 300)


def test_throughput_is_rows_over_the_median_call() -> None:
    timings = Timings((10.0, 20.0, 40.0))
    workload = Workload(rows=1000, pull_request=timings, baseline=None, ratio=None)

    assert timings.p50 == 20.0
    assert workload.rows_per_second(timings) == 50_000.0


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [(1.01, 1.2, "slower"), (0.8, 0.99, "faster"), (0.99, 1.01, "within noise"), (1.0, 1.3, "within noise")],
)
def test_only_an_interval_that_excludes_one_is_slower_or_faster(low: float, high: float, verdict: str) -> None:
    assert RatioInterval(observed=(low + high) / 2, low=low, high=high, confidence=0.95, resamples=1000).verdict == (
        verdict
    )


def test_the_gate_log_line_names_both_medians_and_the_ratio() -> None:
    ratio = RatioInterval(observed=1.5, low=1.25, high=1.75, confidence=0.95, resamples=1000)
    timed = Workload(rows=1, pull_request=Timings((3.0,)), baseline=Timings((2.0,)), ratio=ratio)
    alone = Workload(rows=1, pull_request=Timings((3.0,)), baseline=None, ratio=None)

    assert timed.describe("single-row") == (
        "single-row latency p50 over 1 calls of 1 row(s): this PR 3.000 ms, baseline 2.000 ms, "
        "PR / baseline 1.500 (95% interval 1.250 to 1.750: slower)"
    )
    assert alone.describe("single-row").endswith("this PR 3.000 ms (baseline not timed)")
