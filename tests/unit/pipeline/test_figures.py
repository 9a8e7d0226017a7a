"""Figures drawn without pyplot: the same PNG, byte for byte, as pyplot draws under the Agg backend, so every plot
the project writes stayed the same when its modules stopped importing pyplot."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from mlloop.pipeline.figures import FIGURE_SIZE, new_figure, save

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _draw(axes: Axes) -> None:
    """A drift plot's content: a density drawn as steps, a title and a legend."""
    axes.hist(np.random.default_rng(0).normal(size=500), bins=30, density=True, histtype="step", label="reference")
    axes.set(title="monthly_charges")
    axes.legend()


def test_a_figure_drawn_without_pyplot_is_the_png_pyplot_draws(tmp_path: Path) -> None:
    figure = new_figure()
    _draw(figure.subplots())
    save(figure, tmp_path / "figure.png")

    pyplot_figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    _draw(axes)
    save(pyplot_figure, tmp_path / "pyplot.png")
    plt.close(pyplot_figure)

    drawn = (tmp_path / "figure.png").read_bytes()
    assert drawn.startswith(PNG_MAGIC)
    assert drawn == (tmp_path / "pyplot.png").read_bytes()
