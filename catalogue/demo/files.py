"""The file makers: small real files written into the demo's datasets, each made from the
parameters a session file gives (see README.md). A maker is a function of keyword arguments
returning bytes; one that takes `path` receives the file's path in its dataset."""

import inspect
import math
import struct
import zlib
from collections.abc import Callable


class FileMakerError(ValueError):
    """A file entry the makers cannot use: FileMakerError(field, reason)."""


def _text(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _png(rows: list[list[int]]) -> bytes:
    """An 8-bit greyscale PNG of the given rows of pixel values."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", len(rows[0]), len(rows), 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _plot(points: list[tuple[float, float]], width: int = 240, height: int = 160, margin: int = 12) -> bytes:
    """A scatter plot of the points, with axes, as a PNG."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    rows = [[255] * width for _ in range(height)]
    for y in range(margin, height - margin + 1):
        rows[y][margin] = 0
    rows[height - margin][margin : width - margin] = [0] * (width - 2 * margin)
    for x, y in points:
        col = margin + round((x - x0) / ((x1 - x0) or 1) * (width - 2 * margin - 3)) + 2
        row = height - margin - 2 - round((y - y0) / ((y1 - y0) or 1) * (height - 2 * margin - 3))
        for dy in (-1, 0, 1):
            rows[row + dy][col - 1 : col + 2] = [40, 40, 40]
    return _png(rows)


def _slice_png(size: int = 128, grain: float = 0.9) -> bytes:
    """A textured disc standing in for a reconstructed slice."""
    centre, radius = size / 2, 0.45 * size
    return _png(
        [
            [
                int(140 + 60 * math.sin(x * grain) * math.cos(y * grain * 0.8))
                if (x - centre) ** 2 + (y - centre) ** 2 < radius**2
                else 20
                for x in range(size)
            ]
            for y in range(size)
        ]
    )


def _noise(seed: int):
    """A small deterministic pseudo-random sequence in [0, 1) (the demo's files never change)."""
    state = seed & 0x7FFFFFFF or 1
    while True:
        state = (1103515245 * state + 12345) & 0x7FFFFFFF
        yield state / 0x80000000


def _crystal_snapshot(angle: float, width: int = 160, height: int = 120) -> bytes:
    """A crystal snapshot of the sample camera: a faceted crystal in its loop, seen at this
    rotation angle, with the beam's cross-hair at the centre."""
    cx, cy = width / 2, height / 2
    turn = math.radians(angle)
    half_w, half_h = 34 * abs(math.cos(turn)) + 12, 20  # the crystal looks thinner side on
    rows = []
    for y in range(height):
        row = []
        for x in range(width):
            value = 70 + round(50 * y / height)  # the lit background
            loop = math.hypot((x - cx) / 52, (y - cy) / 40)
            if 0.93 < loop < 1.0:
                value = 200  # the nylon loop
            elif loop < 0.93:
                value = 110
                if abs(x - cx) / half_w + abs(y - cy) / half_h < 1:
                    facet = 1 if (x - cx) * math.sin(turn + 0.6) + (y - cy) > 0 else 0
                    value = 175 + 40 * facet  # the crystal's two lit facets
            if (abs(x - cx) < 1 and abs(y - cy) < 12) or (abs(y - cy) < 1 and abs(x - cx) < 12):
                value = 255  # cross-hair
            row.append(value)
        rows.append(row)
    return _png(rows)


def _diffraction_thumbnail(image_number: int, size: int = 128) -> bytes:
    """A diffraction image's thumbnail: dark Bragg spots on lattice rows that turn with the image,
    a faint ice ring and the beamstop's shadow."""
    rows = [[235] * size for _ in range(size)]
    centre = size / 2
    for y in range(size):
        for x in range(size):
            radius = math.hypot(x - centre, y - centre)
            if abs(radius - 0.36 * size) < 1.2:
                rows[y][x] = 205  # ice ring
            if radius < 5 or (abs(x - centre) < 2 and y < centre):
                rows[y][x] = 90  # beamstop and its arm
    turn = math.radians(image_number * 0.1 * 7)
    random = _noise(image_number)
    for h in range(-9, 10):
        for k in range(-9, 10):
            if (h, k) == (0, 0) or next(random) < 0.45:
                continue
            u, v = 6.3 * h, 5.1 * k + 2.4 * h
            x = round(centre + u * math.cos(turn) - v * math.sin(turn))
            y = round(centre + u * math.sin(turn) + v * math.cos(turn))
            if 1 <= x < size - 1 and 1 <= y < size - 1 and math.hypot(x - centre, y - centre) > 7:
                darkness = 150 + round(80 * next(random))
                for dy, dx in ((0, 0), (0, 1), (1, 0), (0, -1), (-1, 0)):
                    rows[y + dy][x + dx] = min(rows[y + dy][x + dx], 235 - darkness)
    return _png(rows)


# --- Curves: named shapes with parameters (no code in the data files) --------------------------


def _grid(q_step: float, q_count: int) -> list[float]:
    return [q_step * n for n in range(1, q_count + 1)]


def _spheres(*, i0: float, rg: float, background: float, q_step: float, q_count: int) -> list[tuple[float, float]]:
    """I(q) of homogeneous spheres of about this Rg (10 % spread), on a flat background."""
    radii = [math.sqrt(5 / 3) * rg * spread for spread in (0.9, 0.95, 1.0, 1.05, 1.1)]
    curve = []
    for q in _grid(q_step, q_count):
        spheres = [(3 * (math.sin(q * r) - q * r * math.cos(q * r)) / (q * r) ** 3) ** 2 for r in radii]
        curve.append((q, i0 * sum(spheres) / len(spheres) + background))
    return curve


def _flat(*, level: float, q_step: float, q_count: int) -> list[tuple[float, float]]:
    """A buffer's curve: the background alone."""
    return [(q, level) for q in _grid(q_step, q_count)]


def _falloff(*, points: int, top: float, drop: float, power: int) -> list[tuple[float, float]]:
    """A statistic by resolution shell against 1/d²: top - drop * x**power for x in (0, 1]."""
    return [(s / points, top - drop * (s / points) ** power) for s in range(1, points + 1)]


CURVES: dict[str, Callable[..., list[tuple[float, float]]]] = {
    "spheres": _spheres,
    "flat": _flat,
    "falloff": _falloff,
}


def _xy(curve, **_):
    return curve


def _log10(curve, *, offset: float = 0):
    return [(q, math.log10(i + offset) if offset else math.log10(i)) for q, i in curve]


def _guinier(curve, *, rg: float, limit: float):
    return [(q * q, math.log(i)) for q, i in curve if q * rg < limit]


def _kratky(curve):
    return [(q, q * q * i) for q, i in curve]


VIEWS: dict[str, Callable] = {"xy": _xy, "log10": _log10, "guinier": _guinier, "kratky": _kratky}


def _bind(function: Callable, params: dict, where: str) -> None:
    """FileMakerError naming the field when the parameters do not fit the function."""
    names = inspect.signature(function).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in names.values())
    for name in params:
        if name not in names and not takes_any:
            raise FileMakerError(f"{where}{name}", "unknown parameter")
    for name, parameter in names.items():
        required = parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is parameter.empty
        if required and name not in params and name != "path":
            raise FileMakerError(f"{where}{name}", "missing")


def _spec(spec, table: dict, where: str) -> tuple[Callable, dict]:
    """A named shape: a mapping with `shape` (or `name`), or only the name."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec) if isinstance(spec, dict) else None
    key = "shape" if table is CURVES else "name"
    if spec is None or key not in spec:
        raise FileMakerError(f"{where}{key}", "missing")
    name = spec.pop(key)
    if name not in table:
        raise FileMakerError(f"{where}{key}", f"unknown {'curve shape' if table is CURVES else 'view'} {name!r}")
    _bind(table[name], spec, where)
    return table[name], spec


def _points(*, points=None, curve=None, view="xy") -> list[tuple[float, float]]:
    if points is not None:
        return [tuple(point) for point in points]
    shape, params = _spec(curve, CURVES, "curve.")
    function, view_params = _spec(view, VIEWS, "view.")
    return function(shape(**params), **view_params)


# --- The makers --------------------------------------------------------------------------------


def text(*, lines: list[str]) -> bytes:
    """A text file of these lines."""
    return _text(*lines)


def placeholder(*, kind: str, name: str) -> bytes:
    """A stand-in for a binary file (HDF5, MRC, MTZ...): a short text saying what it replaces."""
    return _text(f"demo placeholder for a {kind} file: {name}")


def cbf(
    *, path: str, start_angle: float, increment: float, exposure: float, wavelength: float, detector_distance: float
) -> bytes:
    """The text header of a PILATUS CBF image (without the image itself); distance in mm."""
    return _text(
        "###CBF: VERSION 1.5, CBFlib v0.7.8 - PILATUS detectors",
        f"data_{path}",
        '_array_data.header_convention "PILATUS_1.2"',
        "_array_data.header_contents",
        ";",
        "# Detector: PILATUS3 2M, S/N 24-0118, ESRF ID30A-1",
        "# Pixel_size 172e-6 m x 172e-6 m",
        "# Silicon sensor, thickness 0.001000 m",
        f"# Exposure_time {exposure:.7f} s",
        f"# Wavelength {wavelength:.5f} A",
        f"# Detector_distance {detector_distance / 1000:.5f} m",
        "# Beam_xy (751.11, 853.80) pixels",
        f"# Start_angle {start_angle:.4f} deg.",
        f"# Angle_increment {increment:.4f} deg.",
        ";",
    )


def crystal_snapshot(*, angle: float) -> bytes:
    """The sample camera's view of the crystal at this rotation angle (PNG)."""
    return _crystal_snapshot(angle)


def diffraction_thumbnail(*, image: int) -> bytes:
    """A thumbnail of this diffraction image (PNG)."""
    return _diffraction_thumbnail(image)


def slice_png(*, grain: float, size: int = 128) -> bytes:
    """A textured disc standing in for a reconstructed slice (PNG)."""
    return _slice_png(size=size, grain=grain)


def plot(*, points=None, curve=None, view="xy", width: int = 240, height: int = 160, margin: int = 12) -> bytes:
    """A scatter plot (PNG) of literal `points` [[x, y], ...], or of a named `curve` seen in a `view`."""
    return _plot(_points(points=points, curve=curve, view=view), width=width, height=height, margin=margin)


def dat(*, curve) -> bytes:
    """A SAXS curve as text: q, I(q) and a 2 % error."""
    curve = _points(curve=curve)
    return _text("# q(nm-1) I(q) sigma", *(f"{q:.4f} {i:.6e} {0.02 * i + 1e-4:.6e}" for q, i in curve))


MAKERS: dict[str, Callable[..., bytes]] = {
    "text": text,
    "placeholder": placeholder,
    "cbf": cbf,
    "crystal_snapshot": crystal_snapshot,
    "diffraction_thumbnail": diffraction_thumbnail,
    "slice": slice_png,
    "plot": plot,
    "dat": dat,
}


def check_maker(maker: str, params: dict) -> None:
    """FileMakerError, naming the field, unless `maker` exists and takes these parameters."""
    if maker not in MAKERS:
        raise FileMakerError("make", f"unknown file maker {maker!r} (known: {', '.join(MAKERS)})")
    _bind(MAKERS[maker], params, "")
    if "curve" in params:
        _spec(params["curve"], CURVES, "curve.")
    if "view" in params:
        _spec(params["view"], VIEWS, "view.")


def make(maker: str, path: str, params: dict) -> bytes:
    """The content of the file at `path` (relative to its dataset)."""
    function = MAKERS[maker]
    if "path" in inspect.signature(function).parameters:
        return function(path=path, **params)
    return function(**params)
