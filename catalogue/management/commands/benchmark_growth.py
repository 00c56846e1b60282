from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalogue.bench import growth


class Command(BaseCommand):
    help = (
        "Growth curves from benchmark reports made at several scales: "
        "--scale small=var/benchmark-small.json,var/benchmark-logbook-small.json --scale medium=... "
        "Prints each item's medians, its cost growth and a verdict (flat, logarithmic, grows); --png draws them."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            action="append",
            required=True,
            metavar="LABEL=REPORT[,REPORT...]",
            help="A scale's label and its JSON reports (benchmark --json, benchmark_logbook --json, ...)",
        )
        parser.add_argument("--png", help="Draw the curves into this PNG file")

    def handle(self, *args, scale, png, **options):
        groups = {}
        for spec in scale:
            label, _, paths = spec.partition("=")
            if not label or not paths:
                raise CommandError(f"--scale {spec!r}: expected LABEL=REPORT[,REPORT...]")
            missing = [p for p in paths.split(",") if not Path(p).is_file()]
            if missing:
                raise CommandError(f"--scale {label}: no such report {', '.join(missing)}")
            groups[label] = [Path(p) for p in paths.split(",")]
        if len(groups) < 2:
            raise CommandError("give two scales or more")
        try:
            scales, curves = growth.load(groups)
        except (ValueError, KeyError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("Scales: " + ", ".join(f"{label} ({size:,} datasets)" for label, size in scales))
        header = "".join(f"{label:>12}" for label, _ in scales)
        self.stdout.write(f"{'item':<38}{header}  {'unit':<11}{'growth':>8}  verdict")
        for curve in curves:
            by_size = dict(zip(curve.sizes, curve.medians, strict=True))
            cells = "".join(f"{by_size[size]:>12.2f}" if size in by_size else f"{'-':>12}" for _, size in scales)
            self.stdout.write(f"{curve.item:<38}{cells}  {curve.unit:<11}{curve.growth():>7.2f}x  {curve.verdict()}")
        if png:
            growth.plot(curves, scales, Path(png))
            self.stdout.write(f"Drawn into {png}.")
