"""Growth curves: each benchmark item's median against the catalogue's size, from the JSON reports
of `benchmark`, `benchmark_logbook` and `benchmark_doi` run at several scales in one session.

An item's cost (milliseconds, or the inverse of a rate) should stay flat or grow at most like the
logarithm of the catalogue (an index lookup); one that grows faster is flagged. Used by
`manage.py benchmark_growth`, which also draws the curves (matplotlib, a development dependency).
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

# Allowance for a machine whose speed drifts by tens of per cent within minutes (docs/benchmarks.md,
# "Noise"): growth up to this factor above logarithmic counts as logarithmic.
NOISE = 1.3


@dataclass
class Curve:
    item: str
    unit: str
    sizes: list[int] = field(default_factory=list)  # datasets in the catalogue, ascending
    medians: list[float] = field(default_factory=list)
    p95s: list[float] = field(default_factory=list)

    @property
    def is_rate(self) -> bool:
        return self.unit.endswith("/s")

    def costs(self) -> list[float]:
        """The medians as costs: a rate's inverse, so that larger is always worse."""
        return [1 / m if self.is_rate else m for m in self.medians]

    def growth(self) -> float:
        """How many times the cost grew from the smallest catalogue to the largest."""
        costs = self.costs()
        return costs[-1] / costs[0]

    def allowed(self) -> float:
        """The growth a logarithmic cost would have over the same sizes, with the noise allowance."""
        return NOISE * math.log(self.sizes[-1]) / math.log(self.sizes[0])

    def verdict(self) -> str:
        growth = self.growth()
        if growth <= NOISE:
            return "flat"
        if growth <= self.allowed():
            return "logarithmic"
        return "grows"


def load(groups: dict[str, list[Path]]) -> tuple[list[tuple[str, int]], list[Curve]]:
    """`groups` maps a scale's label to its reports; the first report of each group that counts
    the catalogue (`benchmark`'s) gives the scale's size. Returns the scales, smallest first, and
    one curve per item measured at two scales or more."""
    scales = []
    points: dict[str, Curve] = {}
    for label, paths in groups.items():
        reports = [json.loads(Path(p).read_text()) for p in paths]
        size = next((r["catalogue"]["datasets"] for r in reports if "catalogue" in r), None)
        if not size:
            raise ValueError(f"scale {label}: none of its reports counts the catalogue's datasets (run `benchmark`)")
        scales.append((label, size))
        for report in reports:
            for item, result in report["results"].items():
                if result.get("median") is None:
                    continue
                curve = points.setdefault(item, Curve(item, result["unit"]))
                curve.sizes.append(size)
                curve.medians.append(result["median"])
                curve.p95s.append(result["p95"])
    scales.sort(key=lambda scale: scale[1])
    curves = []
    for curve in points.values():
        if len(curve.sizes) < 2:
            continue
        order = sorted(range(len(curve.sizes)), key=curve.sizes.__getitem__)
        curve.sizes = [curve.sizes[i] for i in order]
        curve.medians = [curve.medians[i] for i in order]
        curve.p95s = [curve.p95s[i] for i in order]
        curves.append(curve)
    curves.sort(key=lambda curve: curve.item)
    return scales, curves


def plot(curves: list[Curve], scales: list[tuple[str, int]], path: Path) -> None:
    """Small multiples, one panel per item: median (and p95) against datasets on a log axis;
    a panel whose item grows faster than logarithmically is drawn in red."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    columns = 4
    rows = -(-len(curves) // columns)
    figure, axes = pyplot.subplots(rows, columns, figsize=(4.2 * columns, 2.9 * rows), squeeze=False)
    sizes = [size for _, size in scales]
    for ax, curve in zip(axes.flat, curves, strict=False):
        colour = "#c0392b" if curve.verdict() == "grows" else "#1f5f8b"
        ax.plot(curve.sizes, curve.medians, marker="o", color=colour, label="median")
        ax.plot(curve.sizes, curve.p95s, marker=".", linestyle="--", color=colour, alpha=0.45, label="p95")
        ax.set_xscale("log")
        ax.set_xticks(sizes, [label for label, _ in scales])
        ax.set_ylim(bottom=0)
        ax.set_title(f"{curve.item}\n{curve.verdict()} (x{curve.growth():.2f})", fontsize=9, color=colour)
        ax.set_ylabel(curve.unit, fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(curves) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    figure.suptitle(
        "Benchmark medians against the catalogue's size: "
        + ", ".join(f"{label} {size:,} datasets" for label, size in scales)
        + "\nper item: its verdict and its cost's growth over the range (x); red: faster than logarithmic",
        fontsize=11,
    )
    # Room at the top for the two lines of the title, whatever the number of rows.
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.75 / figure.get_figheight()))
    figure.savefig(path, dpi=90)
    pyplot.close(figure)
