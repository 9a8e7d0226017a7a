"""The drift plots drawn from counts, for the check from summaries: apart from pipeline.plots, whose pandas a
check whose drifted features are all numeric does not need and should not pay to import.
"""

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mlloop.pipeline.figures import new_figure, save


def render_count_overlays(
    numeric: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    categorical: Mapping[str, tuple[Mapping[str, int], Mapping[str, int]]],
    directory: Path,
) -> list[Path]:
    """pipeline.plots' render_distribution_overlays, from counts: per numeric column the reference's values and
    the current's values with their weights (bin means and counts); per categorical column both sides' label counts.
    """
    written = []
    for column, (reference, values, weights) in numeric.items():
        figure = new_figure()
        axes = figure.subplots()
        axes.hist(reference, bins=30, density=True, histtype="step", label="reference")
        axes.hist(values, bins=30, weights=weights, density=True, histtype="step", label="current")
        written.append(_titled(figure, axes, column, directory))
    for column, (reference_counts, current_counts) in categorical.items():
        figure = new_figure()
        axes = figure.subplots()
        _draw_shares(axes, reference_counts, current_counts)
        written.append(_titled(figure, axes, column, directory))
    return written


def _draw_shares(axes: Axes, reference_counts: Mapping[str, int], current_counts: Mapping[str, int]) -> None:
    """Both sides' share of each label, as bars side by side."""
    import pandas as pd  # the bar chart is pandas' own; a check whose drifted features are numeric must not import it

    shares = pd.DataFrame(
        {
            label: pd.Series(counts, dtype=float) / max(sum(counts.values()), 1)
            for label, counts in (("reference", reference_counts), ("current", current_counts))
        }
    ).fillna(0)
    shares.plot.bar(ax=axes, rot=30)


def _titled(figure: Figure, axes: Axes, column: str, directory: Path) -> Path:
    axes.set(title=column)
    axes.legend()
    path = directory / f"{column}.png"
    save(figure, path)
    return path
