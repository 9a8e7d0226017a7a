"""PNG renderings of curve data: the evaluate stage's plots, and baseline-vs-PR plots for the report."""

import itertools
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes

from mlloop.pipeline.figures import FIGURE_SIZE, new_figure, save


def _line(points: pd.DataFrame, x: str, y: str, title: str, path: Path, diagonal: bool) -> None:
    figure = new_figure()
    axes = figure.subplots()
    axes.plot(points[x], points[y])
    if diagonal:
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.set(xlabel=x, ylabel=y, title=title, xlim=(0, 1), ylim=(0, 1.02))
    save(figure, path)


def _draw_confusion(axes: Axes, rows: pd.DataFrame, title: str) -> None:
    counts = pd.crosstab(rows["actual"], rows["predicted"])
    axes.imshow(counts.to_numpy(), cmap="Blues")
    axes.set_xticks(range(len(counts.columns)), labels=list(counts.columns))
    axes.set_yticks(range(len(counts.index)), labels=list(counts.index))
    darkest = counts.to_numpy().max()
    for row, column in itertools.product(range(counts.shape[0]), range(counts.shape[1])):
        count = counts.iat[row, column]
        colour = "white" if count > darkest / 2 else "black"  # readable on dark and light cells
        axes.text(column, row, str(count), ha="center", va="center", color=colour)
    axes.set(xlabel="predicted", ylabel="actual", title=title)


def _confusion(rows: pd.DataFrame, path: Path) -> None:
    figure = new_figure()
    axes = figure.subplots()
    _draw_confusion(axes, rows, "Confusion matrix")
    save(figure, path)


def _importance(importance: pd.DataFrame, path: Path) -> None:
    figure = new_figure((FIGURE_SIZE[0], 0.3 * len(importance) + 1))
    axes = figure.subplots()
    ordered = importance.iloc[::-1]
    axes.barh(ordered["feature"], ordered["importance"])
    axes.set(xlabel="drop in ROC AUC when shuffled", title="Permutation feature importance")
    save(figure, path)


def render_plots(curves: dict[str, pd.DataFrame], directory: Path) -> None:
    """Write one PNG per curve into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    _line(curves["roc"], "fpr", "tpr", "ROC curve", directory / "roc.png", diagonal=True)
    _line(
        curves["precision_recall"],
        "recall",
        "precision",
        "Precision-recall curve",
        directory / "precision_recall.png",
        diagonal=False,
    )
    _line(
        curves["calibration"],
        "mean_predicted",
        "fraction_positive",
        "Calibration",
        directory / "calibration.png",
        diagonal=True,
    )
    _confusion(curves["confusion"], directory / "confusion_matrix.png")
    _importance(curves["importance"], directory / "feature_importance.png")


def _overlay(
    sides: Mapping[str, pd.DataFrame], labels: Mapping[str, str], x: str, y: str, title: str, path: Path
) -> None:
    figure = new_figure()
    axes = figure.subplots()
    for side, points in sides.items():
        axes.plot(points[x], points[y], label=labels[side])
    axes.set(xlabel=x, ylabel=y, title=title, xlim=(0, 1), ylim=(0, 1.02))
    axes.legend()
    save(figure, path)


def _confusions(sides: Mapping[str, pd.DataFrame], labels: Mapping[str, str], path: Path) -> None:
    figure = new_figure((FIGURE_SIZE[0] * len(sides), FIGURE_SIZE[1]))
    panes = figure.subplots(1, len(sides), squeeze=False)
    for axes, (side, rows) in zip(panes[0], sides.items(), strict=True):
        _draw_confusion(axes, rows, f"Confusion matrix: {labels[side]}")
    save(figure, path)


COMPARISON_FILES = {
    "ROC": "compare_roc.png",
    "Precision-recall": "compare_precision_recall.png",
    "Confusion matrices": "compare_confusion.png",
}
"""Chart title → file name of the baseline-vs-PR PNGs, as the report links them."""


def render_comparison(
    curves: Mapping[str, Mapping[str, pd.DataFrame]], labels: Mapping[str, str], directory: Path
) -> None:
    """Baseline-vs-PR PNGs for the report: ROC and PR curves overlaid, confusion matrices side by side."""
    directory.mkdir(parents=True, exist_ok=True)
    _overlay(curves["roc"], labels, "fpr", "tpr", "ROC curve", directory / COMPARISON_FILES["ROC"])
    _overlay(
        curves["precision_recall"],
        labels,
        "recall",
        "precision",
        "Precision-recall curve",
        directory / COMPARISON_FILES["Precision-recall"],
    )
    _confusions(curves["confusion"], labels, directory / COMPARISON_FILES["Confusion matrices"])


def render_distribution_overlays(
    reference: pd.DataFrame, current: pd.DataFrame, numeric: list[str], categorical: list[str], directory: Path
) -> list[Path]:
    """One PNG per column, reference against current: overlaid densities, or side-by-side shares."""
    written = []
    for column in [*numeric, *categorical]:
        figure = new_figure()
        axes = figure.subplots()
        if column in numeric:
            for label, frame in (("reference", reference), ("current", current)):
                axes.hist(frame[column].dropna(), bins=30, density=True, histtype="step", label=label)
        else:
            shares = pd.DataFrame(
                {
                    label: frame[column].value_counts(normalize=True)
                    for label, frame in (("reference", reference), ("current", current))
                }
            ).fillna(0)
            shares.plot.bar(ax=axes, rot=30)
        axes.set(title=column)
        axes.legend()
        path = directory / f"{column}.png"
        save(figure, path)
        written.append(path)
    return written
