"""Distances between a reference and a current sample of one column.

The verdict rests on effect sizes, which stay put as samples grow: Wasserstein distance over the
reference's spread, PSI and Jensen-Shannon distance. KS and chi-square p-values are reported
for reading only, because at tens of thousands of rows they flag shifts too small to matter.
"""

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlloop.core.column_scores import ColumnScores


def _psi(reference_shares: np.ndarray, current_shares: np.ndarray, epsilon: float) -> float:
    """Population stability index; an empty bin counts as epsilon so that it stays finite."""
    reference = np.maximum(reference_shares, epsilon)
    current = np.maximum(current_shares, epsilon)
    return float(np.sum((current - reference) * np.log(current / reference)))


def _null_share_change(reference: pd.Series, current: pd.Series) -> float:
    return float(abs(current.isna().mean() - reference.isna().mean()))


def numeric_scores(reference: pd.Series, current: pd.Series, bins: int, epsilon: float) -> ColumnScores:
    """Wasserstein over the reference's standard deviation, and PSI on the reference's quantile bins.

    The outer bins are open-ended, so values beyond anything the reference held still land in a bin.
    """
    reference_values = reference.dropna().to_numpy(dtype=float)
    current_values = current.dropna().to_numpy(dtype=float)
    if not len(reference_values) or not len(current_values):
        return ColumnScores(None, None, None, None, _null_share_change(reference, current), None)
    spread = float(np.std(reference_values)) or 1.0
    inner_edges = np.unique(np.quantile(reference_values, np.linspace(0, 1, bins + 1)[1:-1]))
    reference_bins = np.bincount(
        np.searchsorted(inner_edges, reference_values, side="right"), minlength=len(inner_edges) + 1
    )
    current_bins = np.bincount(
        np.searchsorted(inner_edges, current_values, side="right"), minlength=len(inner_edges) + 1
    )
    return ColumnScores(
        wasserstein=float(stats.wasserstein_distance(reference_values, current_values)) / spread,
        jensen_shannon=None,
        psi=_psi(reference_bins / reference_bins.sum(), current_bins / current_bins.sum(), epsilon),
        unseen_share=None,
        null_share_change=_null_share_change(reference, current),
        p_value=float(stats.ks_2samp(reference_values, current_values).pvalue),
    )


def categorical_scores(reference: pd.Series, current: pd.Series, categories: list[str], epsilon: float) -> ColumnScores:
    """Jensen-Shannon distance and PSI over the known categories, and the share of unknown ones apart."""
    reference_counts = reference.value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
    present = current.dropna()
    if reference.dropna().empty or present.empty:
        return ColumnScores(None, None, None, None, _null_share_change(reference, current), None)
    known = present.isin(categories)
    current_counts = present[known].value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
    reference_shares = reference_counts / max(reference_counts.sum(), 1)
    current_shares = current_counts / max(current_counts.sum(), 1)
    observed = np.vstack([reference_counts, current_counts])
    observed = observed[:, observed.sum(axis=0) > 0]
    return ColumnScores(
        wasserstein=None,
        jensen_shannon=float(jensenshannon(reference_shares, current_shares, base=2)),
        psi=_psi(reference_shares, current_shares, epsilon),
        unseen_share=float((~known).mean()),
        unseen_labels={str(label): int(count) for label, count in present[~known].value_counts().items() if count},
        null_share_change=_null_share_change(reference, current),
        p_value=float(stats.chi2_contingency(observed).pvalue) if observed.shape[1] > 1 else 1.0,
    )
