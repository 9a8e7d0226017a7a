"""The per-column drift scores: effect sizes that judge, and p-values that are only shown.

Numeric columns get Wasserstein distance over the reference's standard deviation and PSI on the
reference's quantile bins (open-ended outer bins, epsilon for empty ones); categorical columns get
Jensen-Shannon distance (base 2) and PSI over the known categories, with labels the reference never
had counted apart as unseen_share. Both measure the change in the share of nulls. The thresholds
quoted here are the ones in params.yaml `drift.thresholds`.
"""

import math

import numpy as np
import pandas as pd
import pytest

from mlloop.core.drift_scores import categorical_scores, numeric_scores

BINS = 10
EPSILON = 1e-4
WASSERSTEIN_THRESHOLD = 0.1
PSI_THRESHOLD = 0.2
JS_THRESHOLD = 0.1

PRICE_RISE = 1.15


def _measured(score: float | None) -> float:
    """A score that applies: both samples had values."""
    assert score is not None
    return score


def _uniform(seed: int, rows: int, low: float = 20.0, high: float = 120.0) -> pd.Series:
    return pd.Series(np.random.default_rng(seed).uniform(low, high, size=rows))


def _monthly_charges(seed: int, rows: int) -> pd.Series:
    """A bill shaped like the real one: a quarter on cheap phone-only plans near 20 USD, the rest 45 to 115."""
    rng = np.random.default_rng(seed)
    phone_only = rng.random(rows) < 0.25
    return pd.Series(np.where(phone_only, rng.normal(20.0, 1.5, rows), rng.uniform(45.0, 115.0, rows)))


def _labels(counts: dict[str, int]) -> pd.Series:
    return pd.Series([label for label, count in counts.items() for _ in range(count)], dtype="object")


def test_identical_numeric_samples_score_zero_on_every_effect_size() -> None:
    reference = _uniform(seed=1, rows=2_000)

    scores = numeric_scores(reference, reference.copy(), BINS, EPSILON)

    assert scores.wasserstein == pytest.approx(0.0, abs=1e-12)
    assert scores.psi == pytest.approx(0.0, abs=1e-12)
    assert scores.null_share_change == 0.0
    assert scores.p_value == pytest.approx(1.0)
    assert scores.jensen_shannon is None, "Jensen-Shannon is a categorical score"
    assert scores.unseen_share is None, "unseen labels are a categorical notion"


def test_identical_categorical_samples_score_zero_on_every_effect_size() -> None:
    reference = _labels({"DSL": 300, "Fiber optic": 500, "No": 200})

    scores = categorical_scores(reference, reference.copy(), ["DSL", "Fiber optic", "No"], EPSILON)

    assert scores.jensen_shannon == pytest.approx(0.0, abs=1e-7)
    assert scores.psi == pytest.approx(0.0, abs=1e-12)
    assert scores.unseen_share == 0.0
    assert scores.null_share_change == 0.0
    assert scores.p_value == pytest.approx(1.0)
    assert scores.wasserstein is None, "Wasserstein is a numeric score"


def test_a_15_percent_price_rise_crosses_both_the_wasserstein_and_the_psi_threshold() -> None:
    reference = _monthly_charges(seed=2, rows=5_000)
    current = _monthly_charges(seed=3, rows=2_000) * PRICE_RISE

    scores = numeric_scores(reference, current, BINS, EPSILON)

    assert scores.wasserstein is not None
    assert scores.wasserstein > 2 * WASSERSTEIN_THRESHOLD
    assert _measured(scores.psi) > PSI_THRESHOLD


def test_on_a_flat_wide_spread_a_15_percent_rise_is_caught_by_wasserstein_while_psi_stays_under_0_2() -> None:
    # Uniform 20..120 scaled by 1.15: the theoretical PSI on deciles is about 0.16, under 0.2, while
    # Wasserstein/std is about 0.36. Either score drifts a feature, so the rise is still caught.
    reference = _uniform(seed=4, rows=5_000)
    current = _uniform(seed=5, rows=5_000) * PRICE_RISE

    scores = numeric_scores(reference, current, BINS, EPSILON)

    assert scores.wasserstein is not None
    assert scores.wasserstein > 3 * WASSERSTEIN_THRESHOLD
    assert 0.1 < _measured(scores.psi) < PSI_THRESHOLD


def test_values_beyond_the_references_range_land_in_the_open_outer_bins() -> None:
    reference = _uniform(seed=6, rows=2_000)
    far_above = _uniform(seed=7, rows=500, low=200.0, high=300.0)
    far_below = _uniform(seed=8, rows=500, low=-300.0, high=-200.0)

    above = numeric_scores(reference, far_above, BINS, EPSILON)
    below = numeric_scores(reference, far_below, BINS, EPSILON)

    # Everything in one outer bin that held a tenth of the reference, every other bin empty.
    expected = (1 - 0.1) * math.log(1 / 0.1) + (BINS - 1) * (EPSILON - 0.1) * math.log(EPSILON / 0.1)
    assert above.psi == pytest.approx(expected, rel=0.01)
    assert below.psi == pytest.approx(expected, rel=0.01)
    assert math.isfinite(_measured(above.psi))
    assert _measured(above.psi) > 10 * PSI_THRESHOLD


def test_an_empty_bin_counts_as_epsilon_so_psi_stays_finite() -> None:
    # 0..999 has one hundred values in each decile; the current sample fills only the first.
    reference = pd.Series(np.arange(1_000, dtype=float))
    current = pd.Series(np.arange(100, dtype=float))

    scores = numeric_scores(reference, current, BINS, EPSILON)

    expected = (1.0 - 0.1) * math.log(1.0 / 0.1) + (BINS - 1) * (EPSILON - 0.1) * math.log(EPSILON / 0.1)
    assert math.isfinite(_measured(scores.psi))
    assert scores.psi == pytest.approx(expected)


def test_an_unseen_category_counts_in_unseen_share_and_not_in_jensen_shannon() -> None:
    reference = _labels({"Electronic check": 500, "Mailed check": 500})
    # The known labels keep their 50/50 split; a tenth of the rows carry a label the reference never had.
    current = _labels({"Electronic check": 450, "Mailed check": 450, "Crypto wallet": 100})

    scores = categorical_scores(reference, current, ["Electronic check", "Mailed check"], EPSILON)

    assert scores.unseen_share == pytest.approx(0.1)
    assert scores.jensen_shannon == pytest.approx(0.0, abs=1e-7)
    assert scores.psi == pytest.approx(0.0, abs=1e-12)


def test_unseen_share_is_a_share_of_the_non_null_current_values() -> None:
    reference = _labels({"Yes": 50, "No": 50})
    current = pd.concat([_labels({"Yes": 40, "Maybe": 10}), pd.Series([None] * 50, dtype="object")])

    scores = categorical_scores(reference, current, ["Yes", "No"], EPSILON)

    assert scores.unseen_share == pytest.approx(10 / 50)
    assert scores.null_share_change == pytest.approx(0.5)


def test_a_shift_between_known_categories_moves_jensen_shannon_past_its_threshold() -> None:
    reference = _labels({"Month-to-month": 550, "One year": 250, "Two year": 200})
    current = _labels({"Month-to-month": 850, "One year": 100, "Two year": 50})

    scores = categorical_scores(reference, current, ["Month-to-month", "One year", "Two year"], EPSILON)

    assert scores.jensen_shannon is not None
    assert scores.jensen_shannon > JS_THRESHOLD
    assert _measured(scores.psi) > PSI_THRESHOLD
    assert scores.unseen_share == 0.0


def test_the_change_in_the_share_of_nulls_is_measured_in_either_direction() -> None:
    values = _uniform(seed=9, rows=1_000)
    with_nulls = values.mask(values.index % 10 == 0)  # a tenth null

    appeared = numeric_scores(values, with_nulls, BINS, EPSILON)
    vanished = numeric_scores(with_nulls, values, BINS, EPSILON)

    assert appeared.null_share_change == pytest.approx(0.1)
    assert vanished.null_share_change == pytest.approx(0.1)


def test_nulls_are_left_out_of_the_numeric_distances() -> None:
    values = _uniform(seed=10, rows=1_000)
    with_nulls = pd.concat([values, pd.Series([np.nan] * 100)], ignore_index=True)

    scores = numeric_scores(values, with_nulls, BINS, EPSILON)

    assert scores.wasserstein == pytest.approx(0.0, abs=1e-12)
    assert scores.psi == pytest.approx(0.0, abs=1e-12)
    assert scores.null_share_change == pytest.approx(100 / 1_100)


def test_with_large_samples_a_negligible_shift_is_significant_but_its_effect_sizes_stay_under_threshold() -> None:
    # Why p-values never drive the verdict: at 200k rows a 0.5% rise is "significant", yet negligible.
    reference = _uniform(seed=11, rows=200_000)
    current = _uniform(seed=12, rows=200_000) * 1.005

    scores = numeric_scores(reference, current, BINS, EPSILON)

    assert _measured(scores.p_value) < 0.01
    assert scores.wasserstein is not None
    assert scores.wasserstein < WASSERSTEIN_THRESHOLD / 5
    assert _measured(scores.psi) < PSI_THRESHOLD / 100


def test_with_large_samples_from_one_distribution_every_effect_size_is_tiny() -> None:
    reference = _uniform(seed=13, rows=200_000)
    current = _uniform(seed=14, rows=200_000)

    scores = numeric_scores(reference, current, BINS, EPSILON)

    assert scores.wasserstein is not None
    assert scores.wasserstein < WASSERSTEIN_THRESHOLD / 10
    assert _measured(scores.psi) < PSI_THRESHOLD / 100


def test_a_constant_reference_does_not_divide_by_a_zero_spread() -> None:
    reference = pd.Series([1.0] * 500)
    current = pd.Series([1.0] * 250 + [2.0] * 250)

    scores = numeric_scores(reference, current, BINS, EPSILON)

    assert scores.wasserstein == pytest.approx(0.5), "with no spread, the distance is taken in the column's own units"
    assert math.isfinite(_measured(scores.psi))


def test_a_numeric_column_null_in_every_current_row_reports_a_full_null_share_change() -> None:
    reference = _uniform(seed=15, rows=1_000)
    current = pd.Series([np.nan] * 200)

    scores = numeric_scores(reference, current, BINS, EPSILON)

    assert scores.null_share_change == pytest.approx(1.0)


@pytest.mark.parametrize("dtype", ["object", "category"])
def test_unseen_labels_are_listed_with_their_counts_and_nothing_else(dtype: str) -> None:
    # The log reader hands labels over as categoricals, whose counts include every absent category
    reference = pd.Series(["a", "b"] * 50)
    current = pd.Series(["a"] * 6 + ["wallet"] * 3 + ["crypto"], dtype=dtype)

    scores = categorical_scores(reference, current, ["a", "b"], EPSILON)

    assert scores.unseen_labels == {"wallet": 3, "crypto": 1}
    assert scores.unseen_share == pytest.approx(0.4)
