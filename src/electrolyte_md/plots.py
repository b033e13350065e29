"""The package's one way to make a figure: a matplotlib Figure on the Agg canvas.

No pyplot: pyplot keeps global state (the current figure, a backend chosen once per
process), which leaks figures in long jobs and breaks when a job already imported it
with another backend. A :class:`~matplotlib.figure.Figure` with its own Agg canvas needs
neither, and is freed when it goes out of scope.
"""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from electrolyte_md.io import atomic_write

__all__ = ["new_figure", "save_figure", "save_png"]


def new_figure(size: tuple[float, float], layout: str | None = "constrained") -> Figure:
    """A figure of ``size`` inches (width, height) on its own Agg canvas."""
    figure = Figure(figsize=size, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: Path | str, dpi: int = 150) -> None:
    """Write ``figure`` as PNG so that ``path`` appears whole or not at all."""
    _write(figure, path, "png", dpi)


def save_figure(figure: Figure, path: Path | str, dpi: int = 150) -> None:
    """Write ``figure`` in the format of ``path``'s suffix (png, svg, pdf), whole or not
    at all: SVG and PDF are for papers (vector, editable)."""
    fmt = Path(path).suffix.lstrip(".").lower()
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"{path}: a figure is written as .png, .svg or .pdf")
    _write(figure, path, fmt, dpi)


def _write(figure: Figure, path: Path | str, fmt: str, dpi: int) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=dpi)
    atomic_write(path, buffer.getvalue())
