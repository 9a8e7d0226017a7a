"""PNG renderings of the evaluate stage's curve data, for reports that cannot draw DVC plots."""

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

FIGURE_SIZE = (5.0, 4.0)
DPI = 100


def _save(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    # No 'Software' metadata: identical data must give identical bytes across matplotlib builds.
    figure.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(figure)


def _line(points: pd.DataFrame, x: str, y: str, title: str, path: Path, diagonal: bool) -> None:
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    axes.plot(points[x], points[y])
    if diagonal:
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.set(xlabel=x, ylabel=y, title=title, xlim=(0, 1), ylim=(0, 1.02))
    _save(figure, path)


def _confusion(rows: pd.DataFrame, path: Path) -> None:
    counts = pd.crosstab(rows["actual"], rows["predicted"])
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    axes.imshow(counts.to_numpy(), cmap="Blues")
    axes.set_xticks(range(len(counts.columns)), labels=list(counts.columns))
    axes.set_yticks(range(len(counts.index)), labels=list(counts.index))
    for row, column in itertools.product(range(counts.shape[0]), range(counts.shape[1])):
        axes.text(column, row, str(counts.iat[row, column]), ha="center", va="center")
    axes.set(xlabel="predicted", ylabel="actual", title="Confusion matrix")
    _save(figure, path)


def _importance(importance: pd.DataFrame, path: Path) -> None:
    figure, axes = plt.subplots(figsize=(FIGURE_SIZE[0], 0.3 * len(importance) + 1))
    ordered = importance.iloc[::-1]
    axes.barh(ordered["feature"], ordered["importance"])
    axes.set(xlabel="drop in ROC AUC when shuffled", title="Permutation feature importance")
    _save(figure, path)


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
