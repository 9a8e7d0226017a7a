"""The drift scores of core.drift_scores, from counts instead of rows: what per-file summaries keep.

A numeric column is counted over fine bins whose edges come from the reference: one bin per
distinct reference value when it has at most `bins` of them, its quantiles otherwise, and always
its minimum, maximum and PSI deciles, so the PSI bins are unions of fine bins. Each bin keeps the
count and the sum of its values. Then:
- PSI is exact: the decile counts are sums of fine counts;
- Wasserstein is computed with each bin's current values moved to their mean. It is exact when
  every bin holds one distinct value, and outside the reference's range; elsewhere a bin's error
  is at most its share of rows times its width, which fine bins keep far below the threshold
  (bench/README.md measures it);
- categorical scores, null shares and unseen labels are exact: they are counts already.
The p-values, which decide nothing, are approximate from bins: KS's limiting distribution on the
CDFs at the edges, chi-square from the counts. Only numpy, and scipy.special for the p-values:
scipy.stats would add a second to a check that must take three.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mlloop.core.column_scores import ColumnScores


def _psi(reference_shares: np.ndarray, current_shares: np.ndarray, epsilon: float) -> float:
    """Population stability index, as core.drift_scores computes it."""
    reference = np.maximum(reference_shares, epsilon)
    current = np.maximum(current_shares, epsilon)
    return float(np.sum((current - reference) * np.log(current / reference)))


def psi_edges(reference: np.ndarray, psi_bins: int) -> np.ndarray:
    """The inner edges of the reference's quantile bins, as core.drift_scores.numeric_scores draws them."""
    return np.unique(np.quantile(reference, np.linspace(0, 1, psi_bins + 1)[1:-1]))


def fine_edges(reference: np.ndarray, bins: int, psi_bins: int) -> np.ndarray:
    """The inner edges of a numeric column's fine bins: bin 0 is below the first, bin k from edge k-1 up to edge k."""
    distinct = np.unique(reference)
    if len(distinct) <= bins:
        inner = distinct
    else:
        inner = np.union1d(np.quantile(reference, np.linspace(0, 1, bins + 1)), distinct[[0, -1]])
    return np.union1d(inner, psi_edges(reference, psi_bins))


def bin_values(edges: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The count and the sum of the (non-null) values in each bin of these edges."""
    index = np.searchsorted(edges, values, side="right")
    size = len(edges) + 1
    return np.bincount(index, minlength=size), np.bincount(index, weights=values, minlength=size)


def wasserstein(u_values: np.ndarray, v_values: np.ndarray, v_weights: np.ndarray) -> float:
    """The first Wasserstein distance between unweighted `u` and weighted `v`: scipy.stats.wasserstein_distance's
    integral of the absolute difference of the two CDFs, without importing scipy.stats.
    """
    u_sorted = np.sort(u_values)
    order = np.argsort(v_values)
    v_sorted, v_cumulative = v_values[order], np.concatenate([[0.0], np.cumsum(v_weights[order])])
    points = np.sort(np.concatenate([u_sorted, v_sorted]), kind="mergesort")
    u_cdf = np.searchsorted(u_sorted, points[:-1], side="right") / len(u_sorted)
    v_cdf = v_cumulative[np.searchsorted(v_sorted, points[:-1], side="right")] / v_cumulative[-1]
    return float(np.sum(np.abs(u_cdf - v_cdf) * np.diff(points)))


@dataclass(frozen=True)
class NumericCounts:
    """A numeric column of the current window, counted: each fine bin's count and sum, and its nulls."""

    counts: np.ndarray
    sums: np.ndarray
    nulls: int

    @property
    def rows(self) -> int:
        """Every row, null or not."""
        return int(self.counts.sum()) + self.nulls


def _ks_p_value(reference: np.ndarray, edges: np.ndarray, current: np.ndarray) -> float:
    """KS's limiting distribution on the largest gap between the two CDFs at the fine edges."""
    from scipy.special import kolmogorov

    reference_cdf = np.searchsorted(reference, edges, side="left") / len(reference)
    current_cdf = np.cumsum(current)[:-1] / current.sum()
    gap = float(np.max(np.abs(reference_cdf - current_cdf), initial=0.0))
    rows = len(reference) * current.sum() / (len(reference) + current.sum())
    return float(kolmogorov(np.sqrt(rows) * gap))


def numeric_scores(
    reference: np.ndarray,
    reference_null_share: float,
    edges: np.ndarray,
    current: NumericCounts,
    psi_bins: int,
    epsilon: float,
) -> ColumnScores:
    """Wasserstein over the reference's standard deviation, and PSI on its deciles, from the current's bins.

    `reference` holds the reference's non-null values, sorted.
    """
    null_change = abs(current.nulls / current.rows - reference_null_share) if current.rows else reference_null_share
    filled = current.counts > 0
    if not len(reference) or not filled.any():
        return ColumnScores(None, None, None, None, float(null_change), None)
    spread = float(np.std(reference)) or 1.0
    means = current.sums[filled] / current.counts[filled]
    deciles = psi_edges(reference, psi_bins)
    reference_bins = np.bincount(np.searchsorted(deciles, reference, side="right"), minlength=len(deciles) + 1)
    lower_edges = np.concatenate([[-np.inf], edges])
    current_bins = np.bincount(
        np.searchsorted(deciles, lower_edges, side="right"), weights=current.counts, minlength=len(deciles) + 1
    )
    return ColumnScores(
        wasserstein=wasserstein(reference, means, current.counts[filled].astype(float)) / spread,
        jensen_shannon=None,
        psi=_psi(reference_bins / reference_bins.sum(), current_bins / current_bins.sum(), epsilon),
        unseen_share=None,
        null_share_change=float(null_change),
        p_value=_ks_p_value(reference, edges, current.counts),
    )


def _jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """The Jensen-Shannon distance in base 2, as scipy.spatial.distance.jensenshannon computes it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p, q = p / p.sum(), q / q.sum()
    middle = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / middle), 0.0)
        right = np.where(q > 0, q * np.log(q / middle), 0.0)
    return float(np.sqrt(max((left.sum() + right.sum()) / 2, 0.0) / np.log(2)))


def _chi_square_p_value(observed: np.ndarray) -> float:
    """scipy.stats.chi2_contingency's p-value (Yates' correction at one degree of freedom), from scipy.special."""
    from scipy.special import chdtrc

    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    freedom = (observed.shape[0] - 1) * (observed.shape[1] - 1)
    if freedom == 1:
        toward = expected - observed
        observed = observed + np.sign(toward) * np.minimum(0.5, np.abs(toward))
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return float(chdtrc(freedom, statistic))


def categorical_scores(
    reference_counts: Mapping[str, int],
    reference_null_share: float,
    current_counts: Mapping[str, int],
    current_nulls: int,
    categories: list[str],
    epsilon: float,
) -> ColumnScores:
    """Jensen-Shannon distance and PSI over the known categories, the unknown labels apart, from counts."""
    rows = sum(current_counts.values()) + current_nulls
    null_change = abs(current_nulls / rows - reference_null_share) if rows else reference_null_share
    reference = np.array([reference_counts.get(label, 0) for label in categories], dtype=float)
    present = sum(current_counts.values())
    if not sum(reference_counts.values()) or not present:
        return ColumnScores(None, None, None, None, float(null_change), None)
    current = np.array([current_counts.get(label, 0) for label in categories], dtype=float)
    unseen = {label: count for label, count in current_counts.items() if label not in categories and count}
    reference_shares = reference / max(reference.sum(), 1)
    current_shares = current / max(current.sum(), 1)
    observed = np.vstack([reference, current])
    observed = observed[:, observed.sum(axis=0) > 0]
    return ColumnScores(
        wasserstein=None,
        jensen_shannon=_jensen_shannon(reference_shares, current_shares),
        psi=_psi(reference_shares, current_shares, epsilon),
        unseen_share=sum(unseen.values()) / present,
        unseen_labels=dict(sorted(unseen.items(), key=lambda item: item[1], reverse=True)),
        null_share_change=float(null_change),
        p_value=_chi_square_p_value(observed) if observed.shape[1] > 1 else 1.0,
    )
