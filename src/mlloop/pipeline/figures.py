"""A figure drawn and saved as PNG without pyplot: its global figure registry and backend machinery are of no
use to a process that only writes files, and cost every drift check's start to import.
"""

from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# pandas' bar charts import pyplot; Agg keeps it from looking for a display.
matplotlib.use("Agg")

FIGURE_SIZE = (5.0, 4.0)
DPI = 100


def new_figure(size: tuple[float, float] = FIGURE_SIZE) -> Figure:
    """An empty figure on the Agg canvas, the one pyplot gives under the Agg backend: the same pixels."""
    figure = Figure(figsize=size)
    FigureCanvasAgg(figure)
    return figure


def save(figure: Figure, path: Path) -> None:
    """The figure as a PNG, laid out tight."""
    figure.tight_layout()
    # No 'Software' metadata: identical data must give identical bytes across matplotlib builds.
    figure.savefig(path, dpi=DPI, metadata={"Software": None})
