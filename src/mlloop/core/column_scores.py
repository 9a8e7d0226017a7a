"""The scores of one column, as data: what drift_scores computes, and what a drift result carries.

Apart from drift_scores, so that reading a result (the drift issue, the history, `mlloop path`) does
not import pandas and scipy, two of the three seconds those short commands took.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnScores:
    """Every score of one column. Those that do not apply to its type are None, and so are the
    distances when either side has no values at all (the null-share change still says so).
    """

    wasserstein: float | None
    jensen_shannon: float | None
    psi: float | None
    unseen_share: float | None
    null_share_change: float
    p_value: float | None
    unseen_labels: dict[str, int] | None = None
    """Categorical only: each label the reference never had, with its count in the current rows."""
