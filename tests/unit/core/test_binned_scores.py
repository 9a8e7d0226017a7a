"""Scores from counts against the same scores from rows (core.drift_scores): PSI, the categorical scores
and null shares are exact; Wasserstein from fine bins is exact when each bin holds one distinct value
and within params drift.summaries.tolerance otherwise; the distance itself is scipy's."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlloop.config import Params
from mlloop.core import binned_scores, drift_scores
from mlloop.core.column_scores import ColumnScores


def _binned(reference: pd.Series, current: pd.Series, params: Params) -> tuple[ColumnScores, ColumnScores]:
    drift = params.drift
    values = np.sort(reference.dropna().to_numpy(dtype=float))
    edges = binned_scores.fine_edges(values, drift.summaries.bins, drift.psi_bins)
    present = current.dropna().to_numpy(dtype=float)
    counts, sums = binned_scores.bin_values(edges, present)
    binned = binned_scores.numeric_scores(
        values,
        float(reference.isna().mean()),
        edges,
        binned_scores.NumericCounts(counts, sums, int(current.isna().sum())),
        drift.psi_bins,
        drift.psi_epsilon,
    )
    exact = drift_scores.numeric_scores(reference, current, drift.psi_bins, drift.psi_epsilon)
    return binned, exact


@pytest.mark.parametrize("shift", [1.0, 1.15, 0.8], ids=["unchanged", "prices up 15%", "prices down 20%"])
def test_scores_of_a_continuous_column_from_fine_bins_match_the_rows(params: Params, shift: float) -> None:
    rng = np.random.default_rng(3)
    reference = pd.Series(np.round(rng.gamma(4.0, 18.0, size=5600), 2))
    current = pd.Series(np.round(rng.gamma(4.0, 18.0, size=40_000) * shift, 2))
    current[rng.random(len(current)) < 0.02] = np.nan

    binned, exact = _binned(reference, current, params)

    tolerance = params.drift.summaries.tolerance
    assert binned.wasserstein == pytest.approx(exact.wasserstein, abs=tolerance.wasserstein)
    assert binned.psi == pytest.approx(exact.psi, abs=1e-12), "deciles are unions of fine bins: PSI is exact"
    assert binned.null_share_change == pytest.approx(exact.null_share_change, abs=1e-15)


def test_an_integer_column_with_fewer_values_than_bins_scores_exactly(params: Params) -> None:
    rng = np.random.default_rng(4)
    reference = pd.Series(rng.integers(0, 73, size=5600).astype(float))
    current = pd.Series(rng.integers(10, 73, size=20_000).astype(float))

    binned, exact = _binned(reference, current, params)

    assert binned.wasserstein == pytest.approx(exact.wasserstein, abs=1e-12)
    assert binned.psi == pytest.approx(exact.psi, abs=1e-12)


def test_values_beyond_the_references_range_score_exactly(params: Params) -> None:
    # Given a current column entirely above anything the reference held (one open-ended bin)
    rng = np.random.default_rng(5)
    reference = pd.Series(rng.uniform(0, 100, size=5000))
    current = pd.Series(rng.uniform(150, 400, size=5000))

    binned, exact = _binned(reference, current, params)

    assert binned.wasserstein == pytest.approx(exact.wasserstein, rel=1e-9), "the mass beyond moves by its mean"


def test_the_weighted_wasserstein_distance_is_scipys() -> None:
    rng = np.random.default_rng(6)
    reference, values, weights = rng.normal(size=300), rng.normal(0.3, 1.2, size=50), rng.integers(1, 9, size=50)

    ours = binned_scores.wasserstein(reference, values, weights.astype(float))

    assert ours == pytest.approx(stats.wasserstein_distance(reference, values, None, weights), rel=1e-12)


@pytest.mark.parametrize("labels", [["a", "b", "c"], ["a", "b"]], ids=["three labels", "two labels (Yates)"])
def test_categorical_scores_from_counts_are_the_rows_scores(params: Params, labels: list[str]) -> None:
    rng = np.random.default_rng(7)
    reference = pd.Series(rng.choice(labels, size=3000, p=np.full(len(labels), 1 / len(labels))))
    current = pd.Series(rng.choice([*labels, "new"], size=9000, p=[*np.full(len(labels), 0.9 / len(labels)), 0.1]))
    current[:90] = None
    epsilon = params.drift.psi_epsilon

    exact = drift_scores.categorical_scores(reference, current, labels, epsilon)
    binned = binned_scores.categorical_scores(
        {str(label): int(count) for label, count in reference.value_counts().items()},
        0.0,
        {str(label): int(count) for label, count in current.value_counts().items()},
        int(current.isna().sum()),
        labels,
        epsilon,
    )

    for score in ("jensen_shannon", "psi", "unseen_share", "null_share_change", "p_value"):
        assert getattr(binned, score) == pytest.approx(getattr(exact, score), rel=1e-9, abs=1e-300), score
    assert binned.unseen_labels == exact.unseen_labels
