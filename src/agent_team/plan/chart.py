"""The MRR projection as line-chart geometry for an inline SVG, and its table fallback: pure.

The server draws the chart (no JavaScript chart library, no CDN): these functions turn the
low/base/high projections into coordinates in a viewBox, "nice" axis ticks and short labels.
Colours and dash patterns are CSS classes (``chart.css``), so dark mode and print restyle them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agent_team import economics as eco

SCENARIOS = ("low", "base", "high")
SCENARIO_LABELS = {"low": "Low", "base": "Base", "high": "High"}
TABLE_MONTHS = (1, 3, 6, 12, 18, 24, 30, 36)
# Steps of an axis are 1, 2, 2.5 or 5 times a power of ten, as people count.
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


@dataclass(frozen=True)
class Box:
    """The plotting area inside the viewBox: left, top, right and bottom edges."""

    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True)
class Layout:
    """A chart size: viewBox width and height, margins and how many ticks each axis wants."""

    width: int
    height: int
    margin_left: int = 64
    margin_right: int = 16
    margin_top: int = 16
    margin_bottom: int = 40
    y_ticks: int = 5
    x_every: int = 6

    @property
    def box(self) -> Box:
        """Return the plotting area."""
        return Box(
            self.margin_left,
            self.margin_top,
            self.width - self.margin_right,
            self.height - self.margin_bottom,
        )


WIDE = Layout(width=720, height=320)
NARROW = Layout(width=360, height=280, margin_left=52, margin_right=12, y_ticks=4, x_every=12)


@dataclass(frozen=True)
class Tick:
    """One tick of an axis: its value, position along the axis and label."""

    value: float
    position: float
    label: str


@dataclass(frozen=True)
class Line:
    """One scenario's line: its name, label, points and the SVG ``points`` attribute."""

    scenario: str
    label: str
    points: tuple[tuple[float, float], ...]

    @property
    def svg_points(self) -> str:
        """Return the points as an SVG ``points`` attribute."""
        return " ".join(f"{x:g},{y:g}" for x, y in self.points)


@dataclass(frozen=True)
class Chart:
    """A whole line chart: size, plotting area, axes and one line per scenario."""

    width: int
    height: int
    box: Box
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    lines: tuple[Line, ...]
    mark: Tick | None = None


def mrr_series(projections: eco.ScenarioProjections) -> dict[str, tuple[float, ...]]:
    """Return each scenario's MRR by month, in currency units."""
    return {
        name: tuple(month.mrr_cents / 100 for month in getattr(projections, name).months)
        for name in SCENARIOS
    }


def nice_ticks(top: float, count: int = 5) -> tuple[float, ...]:
    """Return ticks from 0 to at least ``top`` in about ``count`` nice steps (0 to 1 if none)."""
    if not math.isfinite(top) or top <= 0:
        top = 1.0
    rough = top / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(rough))
    step = next(nice * power for nice in NICE_STEPS if nice * power >= rough * (1 - 1e-9))
    steps = max(math.ceil(top / step), 1)
    if step * steps < top:  # float rounding: the last tick must not fall short of the top
        steps += 1
    return tuple(step * i for i in range(steps + 1))


def money_label(value: float) -> str:
    """Return a short money label: $0, $950, $2.5, $1.5k, $12M, $4,000T, $3.40e+21."""
    size, suffix = next(((s, x) for s, x in SUFFIXES if abs(value) >= s), (1.0, ""))
    scaled = value / size
    if abs(scaled) >= 1e6:
        return f"${value:.2e}"  # beyond trillions, as a spreadsheet shows them
    digits = f"{scaled:,.0f}" if abs(scaled) >= 100 or scaled == int(scaled) else f"{scaled:.3g}"
    return f"${digits}{suffix}"


def mrr_chart(
    projections: eco.ScenarioProjections, layout: Layout = WIDE, *, mark: int | None = None
) -> Chart:
    """Return the chart of the scenarios' MRR: month 1 at the left, 0 at the bottom.

    ``mark`` is a month to mark with a vertical rule (the break-even month), if in range.
    """
    series = mrr_series(projections)
    months = len(series["base"])
    box = layout.box
    ticks = nice_ticks(max(max(values, default=0.0) for values in series.values()), layout.y_ticks)

    def x(month: int) -> float:
        # One month alone sits in the middle rather than dividing by zero.
        share = (month - 1) / (months - 1) if months > 1 else 0.5
        return round(box.left + share * (box.right - box.left), 1)

    def y(value: float) -> float:
        share = min(max(value / ticks[-1], 0.0), 1.0)
        return round(box.bottom - share * (box.bottom - box.top), 1)

    lines = tuple(
        Line(name, SCENARIO_LABELS[name], tuple((x(i), y(v)) for i, v in enumerate(values, 1)))
        for name, values in series.items()
    )
    shown = [1, *range(layout.x_every, months + 1, layout.x_every)]
    return Chart(
        width=layout.width,
        height=layout.height,
        box=box,
        x_ticks=tuple(Tick(m, x(m), str(m)) for m in sorted(set(shown)) if m <= months),
        y_ticks=tuple(Tick(t, y(t), money_label(t)) for t in ticks),
        lines=lines,
        mark=Tick(mark, x(mark), f"Break-even, month {mark}") if mark and mark <= months else None,
    )


def mrr_table(
    projections: eco.ScenarioProjections, months: tuple[int, ...] | None = TABLE_MONTHS
) -> list[dict[str, float]]:
    """Return rows of month and each scenario's MRR, for ``months`` (None: every month)."""
    series = mrr_series(projections)
    count = len(series["base"])
    chosen = range(1, count + 1) if months is None else [m for m in months if m <= count]
    return [{"month": m, **{name: series[name][m - 1] for name in SCENARIOS}} for m in chosen]
