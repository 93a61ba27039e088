"""A small text plot of per-epoch curves on one shared y axis (train against validation RMSE:
where the two part, the model starts fitting noise)."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import Static

#: Each series' mark and colour, in order.
MARKS = (("●", "cyan"), ("▲", "magenta"), ("■", "yellow"), ("◆", "green"))
LABEL_WIDTH = 9


def plot_curves(curves: dict[str, list[float]], width: int = 60, height: int = 6) -> Text:
    """``curves`` (name -> value per epoch) drawn as ``height`` rows of at most ``width``
    columns (epochs sampled evenly when there are more), the y axis shared and labelled with
    its range, then a legend with each curve's first and last value. Non-finite values are
    left out; no finite value at all gives an empty Text."""
    series = [(name, values) for name, values in curves.items() if values]
    finite = [v for _, values in series for v in values if math.isfinite(v)]
    if not finite:
        return Text()
    low, high = min(finite), max(finite)
    span = high - low or 1.0
    epochs = max(len(values) for _, values in series)
    columns = max(1, min(width, epochs))
    grid: list[list[tuple[str, str]]] = [[(" ", "")] * columns for _ in range(height)]
    for (_, values), (mark, colour) in zip(series, MARKS):
        for column in range(columns):
            index = round(column * (epochs - 1) / (columns - 1)) if columns > 1 else 0
            if index < len(values) and math.isfinite(values[index]):
                row = round((high - values[index]) / span * (height - 1))
                grid[row][column] = (mark, colour)
    text = Text()
    for number, cells in enumerate(grid):
        label = f"{high:.4g}" if number == 0 else f"{low:.4g}" if number == height - 1 else ""
        text.append(f"{label:>{LABEL_WIDTH - 2}} │", style="dim")
        for mark, colour in cells:
            text.append(mark, style=colour)
        text.append("\n")
    text.append(f"{'':>{LABEL_WIDTH - 2}} └ epoch 1 … {epochs}\n", style="dim")
    for index, ((name, values), (mark, colour)) in enumerate(zip(series, MARKS)):
        text.append(("   " if index else "") + mark, style=colour)
        text.append(f" {name} {values[0]:.4g} → {values[-1]:.4g}")
    return text


class CurvesPlot(Static):
    """The per-epoch curves of a trained model; hidden when it has none."""

    def show(self, curves: dict[str, list[float]]) -> None:
        self.display = bool(curves)
        self.update(plot_curves(curves) if curves else "")
