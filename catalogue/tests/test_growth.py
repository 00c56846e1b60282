"""The growth curves' verdicts and drawing (catalogue/bench/growth.py, manage.py benchmark_growth)."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

SIZES = {"small": 10_000, "medium": 100_000, "large": 1_000_000}


def _reports(tmp_path, values: dict[str, dict[str, tuple[float, str]]]) -> list[str]:
    """One `benchmark` report and one logbook report per scale; `values` maps item -> scale -> (median, unit)."""
    specs = []
    for scale, size in SIZES.items():
        main = {"catalogue": {"datasets": size}, "results": {}}
        logbook = {"events": size * 10, "results": {}}
        for item, by_scale in values.items():
            if scale in by_scale:
                median, unit = by_scale[scale]
                target = logbook if item.startswith("lb_") else main
                target["results"][item] = {"median": median, "p95": median * 1.2, "unit": unit}
        (tmp_path / f"{scale}.json").write_text(json.dumps(main))
        (tmp_path / f"{scale}-logbook.json").write_text(json.dumps(logbook))
        specs.append(f"{scale}={tmp_path / f'{scale}.json'},{tmp_path / f'{scale}-logbook.json'}")
    return specs


def test_verdicts_and_drawing(tmp_path):
    specs = _reports(
        tmp_path,
        {
            "flat_page": {"small": (30, "ms"), "medium": (33, "ms"), "large": (31, "ms")},
            "log_search": {"small": (20, "ms"), "medium": (25, "ms"), "large": (35, "ms")},
            "linear_count": {"small": (5, "ms"), "medium": (50, "ms"), "large": (500, "ms")},
            "lb_ingestion": {"small": (100, "events/s"), "medium": (90, "events/s"), "large": (20, "events/s")},
            "only_once": {"small": (1, "ms")},
        },
    )
    png = tmp_path / "growth.png"
    out = io.StringIO()
    args = [arg for spec in specs for arg in ("--scale", spec)]
    call_command("benchmark_growth", *args, "--png", str(png), stdout=out)
    lines = {line.split()[0]: line for line in out.getvalue().splitlines()[2:] if line.strip()}
    assert lines["flat_page"].endswith("flat")
    assert lines["log_search"].endswith("logarithmic")  # 1.75x against 1.5 (log ratio) x 1.3
    assert lines["linear_count"].endswith("grows")
    assert " 100.00x " in lines["linear_count"]
    assert lines["lb_ingestion"].endswith("grows")  # a rate that falls five-fold: its cost grew
    assert "only_once" not in lines  # one scale is no curve
    assert "Scales: small (10,000 datasets), medium (100,000 datasets), large (1,000,000 datasets)" in out.getvalue()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_arguments(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"results": {}}))
    with pytest.raises(CommandError, match="two scales"):
        call_command("benchmark_growth", "--scale", f"small={tmp_path / 'x.json'}")
    with pytest.raises(CommandError, match="no such report"):
        call_command("benchmark_growth", "--scale", f"a={tmp_path / 'x.json'}", "--scale", f"b={tmp_path / 'y.json'}")
    with pytest.raises(CommandError, match="counts the catalogue"):
        call_command("benchmark_growth", "--scale", f"a={tmp_path / 'x.json'}", "--scale", f"b={tmp_path / 'x.json'}")
    with pytest.raises(CommandError, match="LABEL=REPORT"):
        call_command("benchmark_growth", "--scale", "a", "--scale", "b=c")
