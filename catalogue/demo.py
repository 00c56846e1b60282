"""The demo catalogue of `manage.py load_demo`: one session per technique, taken from the seeds.

- MX-1111 on ID30A-1 (MX, 4 Apr 2016): crystal AFAMIN-rev1-B5-1, six mesh scans, three line
  scans, reference images, the 1640-image oscillation, EDNA characterisation and autoPROC
  integration. Released (the default embargo ended in 2019).
- MX-2485 on BM29 (BioSAXS, 25 Apr 2023): folded HlyA1 and its buffers, acquisitions,
  integrations and buffer subtractions. Embargo extended.
- LS-3187 on BM05 (HiP-CT, May 2021): two 2.51 um zooms in the left lung of body donor
  LADAF-2020-27 and their reconstructions. Embargo extended.
- MX-2601 on CM01 (cryo-ET, Oct 2026): tilt series -> motion correction -> CTF -> tomogram.
  Under the default embargo.

Every write is an upsert, so a second run changes nothing. Datasets are stored the way an
instrument stores them, through dataset_store (upsert by location), after their files
are written under the demo data root (only the missing ones): the worker registers them by
scanning the folder.
"""

import math
import struct
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction

from catalogue.ingestion.services import DatasetRequest, IngestionError, dataset_store
from catalogue.people.services import api_key_create
from catalogue.policy.services import default_release_date
from techniques.validation import validate_parameters

from . import locations
from .access import Actor
from .models import Instrument, InstrumentApiKey, InstrumentScientist, Investigation, InvestigationUser, Sample

API_KEY_INSTRUMENT = "ID30A-1"
API_KEY_NAME = f"Demo beamline key {API_KEY_INSTRUMENT}"
ADMIN = "admin"
PARIS = ZoneInfo("Europe/Paris")

CREATED, UPDATED, EXISTING, WRITTEN = "created", "updated", "already there", "written"


class DemoError(Exception):
    pass


@dataclass
class DemoReport:
    """What a run did: for each kind of object, how many were created, updated or already there."""

    counts: dict = field(default_factory=lambda: defaultdict(Counter))
    api_key_secret: str = ""  # only on the run that created the key: it is never shown again

    def count(self, kind: str, outcome: str, number: int = 1) -> None:
        self.counts[kind][outcome] += number


# --- People and instruments --------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    email: str
    is_staff: bool = False
    is_superuser: bool = False


USERS = [
    DemoUser(ADMIN, "Ada", "Admin", "admin@example.org", is_staff=True, is_superuser=True),
    DemoUser("alice", "Alice", "Martin", "alice@example.org"),
    DemoUser("bob", "Bob", "Durand", "bob@example.org"),
    DemoUser("carol", "Carol", "Nguyen", "carol@example.org"),
]

INSTRUMENTS = [
    Instrument(
        name="ID30A-1",
        full_name="ID30A-1 (MASSIF-1): automated macromolecular crystallography",
        description=(
            "Fully automatic MX beamline: crystals are mounted by a robot, centred by X-ray mesh and "
            "line scans, characterised and collected without human intervention. Fixed energy "
            "12.84 keV (0.966 Å), PILATUS3 2M detector."
        ),
    ),
    Instrument(
        name="BM29",
        full_name="BM29: BioSAXS",
        description=(
            "Small-angle X-ray scattering of biological macromolecules in solution: automated sample "
            "changer and online size-exclusion chromatography (SEC-SAXS), 7-15 keV, PILATUS3 2M "
            "detector, automatic integration, buffer subtraction and analysis (Guinier, BIFT, Porod)."
        ),
    ),
    Instrument(
        name="BM05",
        full_name="BM05: hierarchical phase-contrast tomography (HiP-CT)",
        description=(
            "EBS test beamline where whole human organs are imaged for the Human Organ Atlas: "
            "polychromatic beam from a 0.85 T dipole wiggler, propagation phase contrast, from the "
            "whole organ at 25 um down to local zooms at about 2 um."
        ),
    ),
    Instrument(
        name="CM01",
        full_name="CM01: cryo-electron microscopy",
        description=(
            "Titan Krios G3 cryo-electron microscope at 300 kV with a Gatan K3 direct electron detector "
            "and BioQuantum energy filter, for single particle analysis and cryo-electron tomography."
        ),
    ),
]

# (username, instrument)
SCIENTISTS = [("carol", "ID30A-1")]


# --- Sessions ----------------------------------------------------------------------------------


@dataclass
class DemoDataset:
    request: DatasetRequest
    files: dict[str, bytes]  # path relative to the location -> content


@dataclass(frozen=True)
class DemoSession:
    proposal: str
    visit_id: str
    instrument: str
    title: str
    summary: str
    start: datetime
    end: datetime
    release: datetime | None  # None: the facility's default embargo after the end
    members: list[tuple[str, str]]  # (username, InvestigationUser.Role)
    samples: dict[str, tuple[str, dict]]  # name -> (description, parameters)
    datasets: Callable[["SessionFolder"], None]  # adds the session's datasets, inputs first

    def release_date(self) -> datetime:
        return self.release or default_release_date(self.end)


class SessionFolder:
    """The session's data folder, as settings.DATA_FOLDER_PATTERN gives it in the first data root
    (e.g. <root>/visitor/mx1111/id30a1/20160404), and its datasets."""

    def __init__(self, session: DemoSession, path: Path):
        self.session = session
        self.path = path
        self.datasets: list[DemoDataset] = []

    def add(self, name: str, folder: str, *, files: dict[str, bytes], **fields) -> str:
        """Queue a dataset in `folder` (relative to the session's); returns its location."""
        location = str(self.path / folder)
        request = DatasetRequest(
            name=name, location=location, proposal=self.session.proposal, visit_id=self.session.visit_id, **fields
        )
        self.datasets.append(DemoDataset(request, files))
        return location


def at(text: str) -> datetime:
    """A local time at the facility, e.g. at("2016-04-04 19:27:05")."""
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


# --- Small real files --------------------------------------------------------------------------


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


def _placeholder(kind: str, name: str) -> bytes:
    """A stand-in for a binary file (HDF5, MRC, MTZ...): a short text saying what it replaces."""
    return _text(f"demo placeholder for a {kind} file: {name}")


# --- MX: MX-1111 on ID30A-1 --------------------------------------------------------------------

MX_SAMPLE = "AFAMIN-rev1-B5-1"
MX_BEAM = {
    "InstrumentMonochromator_wavelength": 0.966,
    "InstrumentMonochromator_energy": 12.835,
    "InstrumentDetector_model": "PILATUS3 2M",
    "MX_beamShape": "ellipse",
    "MX_beamSizeAtSampleX": {"value": 50, "unit": "um"},
    "MX_beamSizeAtSampleY": {"value": 50, "unit": "um"},
    "MX_aperture": 50,
    "MX_detectorDistance": 272.4,
    "MX_xBeam": 129.191,
    "MX_yBeam": 146.853,
    "MX_rotation_axis": "phi",
}
MX_CELL = {"a": 158.94, "b": 66.45, "c": 93.72, "alpha": 90.0, "beta": 110.31, "gamma": 90.0}


def _cbf(name: str, *, start_angle: float, increment: float, exposure: float) -> bytes:
    """The text header of a PILATUS CBF image (without the image itself)."""
    return _text(
        "###CBF: VERSION 1.5, CBFlib v0.7.8 - PILATUS detectors",
        f"data_{name}",
        '_array_data.header_convention "PILATUS_1.2"',
        "_array_data.header_contents",
        ";",
        "# Detector: PILATUS3 2M, S/N 24-0118, ESRF ID30A-1",
        "# Pixel_size 172e-6 m x 172e-6 m",
        "# Silicon sensor, thickness 0.001000 m",
        f"# Exposure_time {exposure:.7f} s",
        f"# Wavelength {MX_BEAM['InstrumentMonochromator_wavelength']:.5f} A",
        f"# Detector_distance {MX_BEAM['MX_detectorDistance'] / 1000:.5f} m",
        "# Beam_xy (751.11, 853.80) pixels",
        f"# Start_angle {start_angle:.4f} deg.",
        f"# Angle_increment {increment:.4f} deg.",
        ";",
    )


def _mx_collection(
    folder: SessionFolder, *, prefix: str, dc_id: str, start: str, images: int, exposure: float,
    increment: float, definition: str, angles: list[float] | None = None, snapshots: tuple[int, ...] = (0,),
    thumbnails: tuple[int, ...] = (), **parameters,
) -> str:  # fmt: skip
    """One MXCuBE data collection: images named <prefix>_1_0001.cbf... in their own folder, the
    sample camera's crystal snapshots at these angles and thumbnails of these images, as PNGs in
    snapshots/ (the MX definitions' gallery: "snapshots/*.png")."""
    name = f"{prefix}_1_{dc_id}"
    template = f"{prefix}_1_####.cbf"
    angles = angles or [n * increment for n in range(images)]
    files = {}
    for number, angle in enumerate(angles, start=1):
        image = template.replace("####", f"{number:04d}")
        files[image] = _cbf(image, start_angle=angle, increment=increment, exposure=exposure)
    for angle in snapshots:
        files[f"snapshots/crystal_{angle:03d}deg.png"] = _crystal_snapshot(angle)
    for number in thumbnails:
        files[f"snapshots/diffraction_{number:04d}.png"] = _diffraction_thumbnail(number)
    begin = at(start)
    return folder.add(
        name,
        f"RAW_DATA/AFAMIN/{MX_SAMPLE}/{name}",
        sample=MX_SAMPLE,
        definition=definition,
        start_date=begin,
        end_date=begin + timedelta(seconds=round(images * exposure) + 2),
        files=files,
        parameters={
            **MX_BEAM,
            "MX_dataCollectionId": dc_id,
            "MX_template": template,
            "MX_startImageNumber": 1,
            "MX_numberOfImages": images,
            "MX_exposureTime": exposure,
            "MX_oscillationStart": angles[0],
            "MX_oscillationRange": increment,
            **parameters,
        },
    )


def _mx_datasets(folder: SessionFolder) -> None:
    for dc_id, start in [
        ("1719726", "19:27:05"), ("1719728", "19:27:38"), ("1719731", "19:28:10"),
        ("1719733", "19:28:44"), ("1719736", "19:29:12"), ("1719739", "19:29:47"),
    ]:  # fmt: skip
        _mx_collection(
            folder, prefix=f"mesh-{MX_SAMPLE}", dc_id=dc_id, start=f"2016-04-04 {start}", images=24,
            exposure=0.037, increment=0.5, definition="MX_MESH", MX_scanType="Mesh", MX_resolution=2.0,
            MX_transmission=10, MX_flux=1.14e10, MX_mesh_steps_x=6, MX_mesh_steps_y=4,
            MX_mesh_step_size_x=10, MX_mesh_step_size_y={"value": 0.01, "unit": "mm"},
        )  # fmt: skip
    for dc_id, start, images in [("1719742", "19:30:25", 40), ("1719744", "19:31:14", 40), ("1719745", "19:32:10", 60)]:
        _mx_collection(
            folder, prefix=f"line-{MX_SAMPLE}", dc_id=dc_id, start=f"2016-04-04 {start}", images=images,
            exposure=0.1, increment=0.1, definition="MX_LINE", MX_scanType="Helical line", MX_resolution=2.0,
            MX_transmission=30, MX_flux=3.42e10, MX_fluxEnd=3.41e10,
        )  # fmt: skip
    reference = _mx_collection(
        folder, prefix=f"ref-{MX_SAMPLE}", dc_id="1719746", start="2016-04-04 19:33:05", images=4,
        exposure=0.1, increment=1.0, angles=[0.0, 90.0, 180.0, 270.0], definition="MX_REFERENCE",
        snapshots=(0, 90), thumbnails=(1, 2, 3, 4),
        MX_scanType="Characterization", MX_resolution=2.0, MX_transmission=100, MX_flux=1.14e11,
        MX_fluxEnd=1.139e11,
    )  # fmt: skip
    oscillation = _mx_collection(
        folder, prefix=MX_SAMPLE, dc_id="1719747", start="2016-04-04 19:34:16", images=1640,
        exposure=0.355, increment=0.1, definition="MX_OSCILLATION", snapshots=(0, 90), thumbnails=(1, 1640),
        MX_scanType="OSC",
        MX_resolution=2.23303, MX_resolution_at_corner=1.86, MX_transmission=100, MX_flux=1.139e11,
        MX_fluxEnd=1.137e11, MX_kappa=0, MX_phi=0,
    )  # fmt: skip
    folder.add(
        "EDNA_characterisation",
        f"PROCESSED_DATA/AFAMIN/{MX_SAMPLE}/ref-{MX_SAMPLE}_1_1719746/EDNA_characterisation",
        sample=MX_SAMPLE,
        kind="processed",
        definition="MX_CHARACTERISATION",
        inputs=[reference],
        start_date=at("2016-04-04 19:33:12"),
        end_date=at("2016-04-04 19:33:58"),
        files={
            "EDNA_characterisation.log": _text("EDNA characterisation of 4 reference images", "Indexing: MOSFLM, C2"),
            "best.log": _text("BEST strategy: 0.0-164.0 deg, 0.1 deg/image, 0.355 s, 100 % transmission"),
            "ednaStrategy.xml": _text("<strategy><images>1640</images><exposure>0.355</exposure></strategy>"),
        },
        parameters={
            "MXCharacterisation_program": "EDNA (MOSFLM, BEST)",
            "MXCharacterisation_space_group": "C2",
            **{f"MXCharacterisation_cell_{axis}": value for axis, value in MX_CELL.items()},
            "MXCharacterisation_mosaicity": 0.12,
            "MXCharacterisation_ranking_resolution": 2.1,
            "MXCharacterisation_strategy_oscillation_start": 0,
            "MXCharacterisation_strategy_oscillation_range": 0.1,
            "MXCharacterisation_strategy_total_rotation": 164,
            "MXCharacterisation_strategy_number_of_images": 1640,
            "MXCharacterisation_strategy_exposure_time": 0.355,
            "MXCharacterisation_strategy_transmission": 100,
            "MXCharacterisation_strategy_resolution": 2.2,
            "MXCharacterisation_strategy_completeness": 99.5,
            "MXCharacterisation_strategy_multiplicity": 6.8,
        },
    )
    columns = [
        "resolution_limit_low", "resolution_limit_high", "completeness", "multiplicity", "mean_L_over_sigi",
        "cc_half", "r_merge", "r_meas_all_iPlus_iMinus", "r_pim_all_iPlus_iMinus", "n_total_observations",
        "n_total_unique_observations",
    ]  # fmt: skip
    shells = {
        "overall": [46.91, 2.25, 99.1, 6.7, 10.8, 99.7, 9.6, 10.4, 4.0, 393370, 58712],
        "inner": [46.91, 9.87, 99.0, 6.4, 38.1, 99.9, 3.1, 3.4, 1.3, 4290, 670],
        "outer": [2.31, 2.25, 98.6, 6.9, 1.4, 58.2, 128.5, 139.1, 52.8, 29601, 4290],
    }
    statistics = {
        f"MXAutoprocIntegrationScaling_{shell}_{column}": value
        for shell, values in shells.items()
        for column, value in [*zip(columns, values, strict=True), ("anomalous", False)]
    }
    folder.add(
        "autoPROC",
        f"PROCESSED_DATA/AFAMIN/{MX_SAMPLE}/{MX_SAMPLE}_1_1719747/autoPROC",
        sample=MX_SAMPLE,
        kind="processed",
        definition="MX_INTEGRATION",
        inputs=[oscillation],
        start_date=at("2016-04-04 19:44:31"),
        end_date=at("2016-04-04 20:02:10"),
        files={
            "summary.html": _text("<html><body><h1>autoPROC summary</h1><p>C 1 2 1, 2.25 A</p></body></html>"),
            "aimless.log": _text("AIMLESS: overall Rmerge 0.096, CC1/2 0.997, completeness 99.1 %"),
            "truncate-unique.mtz": _placeholder("MTZ", "truncate-unique.mtz"),
            "staraniso_alldata-unique.mtz": _placeholder("MTZ", "staraniso_alldata-unique.mtz"),
            "XDS_ASCII.HKL": _text("!FORMAT=XDS_ASCII    MERGE=FALSE    FRIEDEL'S_LAW=TRUE", "!END_OF_HEADER"),
            # Statistics by resolution shell, against 1/d² (MX_INTEGRATION's plots: "*.png").
            "completeness_vs_resolution.png": _plot(
                [(s / 40, 99.6 - 1.2 * (s / 40) ** 4) for s in range(1, 41)], width=480, height=300, margin=20
            ),
            "cc_half_vs_resolution.png": _plot(
                [(s / 40, 99.9 - 41.7 * (s / 40) ** 6) for s in range(1, 41)], width=480, height=300, margin=20
            ),
        },
        parameters={
            "MXAutoprocIntegration_program": "autoPROC (XDS, AIMLESS, STARANISO)",
            "MXAutoprocIntegration_start_image_number": 1,
            "MXAutoprocIntegration_end_image_number": 1640,
            "MXAutoprocIntegration_detector_distance": 272.61,
            "MXAutoprocIntegration_beam_x": 129.23,
            "MXAutoprocIntegration_beam_y": 146.88,
            "MXAutoprocIntegration_space_group": "C 1 2 1",
            **{f"MXAutoprocIntegration_cell_{axis}": value for axis, value in MX_CELL.items()},
            "MXAutoprocIntegration_anomalous": False,
            **statistics,
        },
    )


MX_SESSION = DemoSession(
    proposal="MX-1111",
    visit_id="id30a1-20160404",
    instrument="ID30A-1",
    title="Crystal structure of human afamin, the vitamin E binding glycoprotein",
    summary=(
        "Automated screening and data collection on MASSIF-1 of crystals of recombinant human afamin "
        "(construct rev1), to see how it binds vitamin E and fatty acids."
    ),
    start=at("2016-04-04 08:00"),
    end=at("2016-04-05 08:00"),
    release=None,
    members=[("alice", InvestigationUser.Role.PRINCIPAL_INVESTIGATOR)],
    samples={
        MX_SAMPLE: (
            "Crystal 1 of well B5 of the rev1 afamin plate",
            {"Sample_protein_name": "Afamin", "Sample_protein_acronym": "AFAMIN", "Sample_space_group": "C2"},
        )
    },
    datasets=_mx_datasets,
)


# --- BioSAXS: MX-2485 on BM29 ------------------------------------------------------------------

SAXS_SAMPLE = "folded_HlyA1"
SAXS_COLLECTION = "folded_HlyA1_sc"
# name, time, sample changer run, concentration (mg/ml), frames kept for the average
SAXS_ACQUISITIONS = [
    ("buffer_after_folded_HlyA1_25", "16:48:38", 6, 0.0, (0, 6)),
    ("sample_folded_HlyA1_12", "16:51:36", 8, 1.25, (0, 2)),
    ("buffer_after_folded_HlyA1_12", "16:54:03", 9, 0.0, (5, 7)),
    ("sample_folded_HlyA1_06", "16:57:02", 11, 0.6, (0, 4)),
]
# sample, buffers subtracted, results of the seed's table (Guinier, BIFT, Porod)
SAXS_SUBTRACTIONS = [
    (
        "sample_folded_HlyA1_12",
        ["buffer_after_folded_HlyA1_25", "buffer_after_folded_HlyA1_12"],
        {"rg": 12.0, "rg_error": 0.0, "points": (0, 8), "i0": 44.8, "i0_error": 0.0, "bift_rg": 3.1,
         "dmax": 16.5, "dmax_error": 0.4, "porod_volume": 45.82},
    ),
    (
        "sample_folded_HlyA1_06",
        ["buffer_after_folded_HlyA1_12"],
        {"rg": 2.6, "rg_error": 0.1, "points": (8, 81), "i0": 14.7, "i0_error": 0.3, "bift_rg": 2.7,
         "dmax": 9.8, "dmax_error": 0.3, "porod_volume": 15.58},
    ),
]  # fmt: skip
SAXS_Q = [0.05 * n for n in range(1, 101)]  # 1/nm


def _saxs_curve(i0: float, rg: float, background: float = 0.02) -> list[tuple[float, float]]:
    """I(q) of homogeneous spheres of about this Rg (10 % spread), on a flat background."""
    radii = [math.sqrt(5 / 3) * rg * spread for spread in (0.9, 0.95, 1.0, 1.05, 1.1)]
    curve = []
    for q in SAXS_Q:
        spheres = [(3 * (math.sin(q * r) - q * r * math.cos(q * r)) / (q * r) ** 3) ** 2 for r in radii]
        curve.append((q, i0 * sum(spheres) / len(spheres) + background))
    return curve


def _dat(curve: list[tuple[float, float]]) -> bytes:
    return _text("# q(nm-1) I(q) sigma", *(f"{q:.4f} {i:.6e} {0.02 * i + 1e-4:.6e}" for q, i in curve))


def _saxs_datasets(folder: SessionFolder) -> None:
    integrations, starts, concentrations = {}, {}, {}
    for name, time, run, concentration, (first, last) in SAXS_ACQUISITIONS:
        start = starts[name] = at(f"2023-04-25 {time}")
        concentrations[name] = concentration
        is_buffer = concentration == 0
        acquisition = folder.add(
            name,
            f"RAW_DATA/{SAXS_COLLECTION}/{SAXS_COLLECTION}_{name}",
            sample=SAXS_SAMPLE,
            definition="SAXS_ACQUISITION",
            start_date=start,
            end_date=start + timedelta(seconds=25),
            files={
                f"{SAXS_COLLECTION}_{name}.h5": _placeholder("HDF5 (Bliss dataset)", name),
                f"scan0001/{name}_0000.h5": _placeholder("HDF5 (PILATUS3 2M frames)", name),
            },
            parameters={
                "SAXS_sample_type": "buffer" if is_buffer else "sample",
                "SAXS_experiment_type": "sample changer",
                "SAXS_sample_changer_run": run,
                "SAXS_sample_changer_position": f"1:B:{run}",
                "SAXS_concentration": concentration,
                "SAXS_buffer": "20 mM HEPES pH 7.5, 150 mM NaCl",
                "SAXS_temperature": {"value": 10.0, "unit": "degC"},
                "SAXS_storage_temperature": {"value": 4.0, "unit": "degC"},
                "SAXS_viscosity": "low",
                "SAXS_flow": True,
                "SAXS_volume": 50,
                "SAXS_exposure_time": 1.0,
                "SAXS_frames_count": 10,
                "InstrumentMonochromator_energy": 12.5,
                "InstrumentDetector_model": "PILATUS3 2M",
            },
        )
        curve = [(q, 0.02) for q in SAXS_Q] if is_buffer else _saxs_curve(20 * concentration, 2.7)
        integrations[name] = folder.add(
            f"{name} integrate",
            f"PROCESSED_DATA/{SAXS_COLLECTION}/{SAXS_COLLECTION}_{name}/integrate",
            sample=SAXS_SAMPLE,
            kind="processed",
            definition="SAXS_INTEGRATION",
            inputs=[acquisition],
            start_date=start + timedelta(seconds=30),
            end_date=start + timedelta(seconds=41),
            files={
                f"gallery/{name}_Scattering.png": _plot([(q, math.log10(i)) for q, i in curve]),
                f"gallery/{name}_avg.dat": _dat(curve),
                f"{name}-integrate.h5": _placeholder("HDF5 (azimuthal integration)", name),
            },
            parameters={
                "SAXS_frames_averaged": last - first + 1,
                "SAXS_frames_averaged_range": f"{first}-{last}",
                "SAXS_frames_count": 10,
                "SAXS_exposure_time": 1.0,
                "SAXS_concentration": concentration,
                "SAXS_q_min": {"value": 0.005, "unit": "1/angstrom"},
                "SAXS_q_max": {"value": 0.5, "unit": "1/angstrom"},
            },
        )
    for name, buffers, result in SAXS_SUBTRACTIONS:
        start = starts[name] + timedelta(minutes=1)
        curve = _saxs_curve(result["i0"], result["bift_rg"], background=0.0)
        guinier = [(q * q, math.log(i)) for q, i in curve if q * result["bift_rg"] < 1.3]
        folder.add(
            f"{name} subtract",
            f"PROCESSED_DATA/{SAXS_COLLECTION}/{SAXS_COLLECTION}_{name}/subtract",
            sample=SAXS_SAMPLE,
            kind="processed",
            definition="SAXS_SUBTRACTION",
            inputs=[integrations[name], *(integrations[buffer] for buffer in buffers)],
            start_date=start,
            end_date=start + timedelta(seconds=14),
            files={
                f"gallery/{name}-integrate_Guinier.png": _plot(guinier),
                f"gallery/{name}-integrate_Kratky.png": _plot([(q, q * q * i) for q, i in curve]),
                f"gallery/{name}-integrate_Scattering.png": _plot([(q, math.log10(i + 1e-6)) for q, i in curve]),
                f"gallery/{name}-integrate_subtracted.dat": _dat(curve),
                f"{name}-integrate-sub.h5": _placeholder("HDF5 (subtracted curve and analysis)", name),
            },
            parameters={
                "SAXS_concentration": concentrations[name],
                "SAXS_guinier_rg": result["rg"],
                "SAXS_guinier_rg_error": result["rg_error"],
                "SAXS_guinier_points_start": result["points"][0],
                "SAXS_guinier_points_end": result["points"][1],
                "SAXS_guinier_i0": result["i0"],
                "SAXS_guinier_i0_error": result["i0_error"],
                "SAXS_bift_rg": result["bift_rg"],
                "SAXS_bift_dmax": result["dmax"],
                "SAXS_bift_dmax_error": result["dmax_error"],
                "SAXS_porod_volume": {"value": result["porod_volume"], "unit": "nm**3"},
                # Porod volume (nm3) / 1.6 gives the mass in kDa for globular proteins.
                "SAXS_mass_estimate_volume": round(result["porod_volume"] / 1.6, 1),
            },
        )


SAXS_SESSION = DemoSession(
    proposal="MX-2485",
    visit_id="bm29-20230425",
    instrument="BM29",
    title="Molecular machines in energy transduction, cellular signaling and defense processes",
    summary=(
        "Solution scattering of the folded HlyA1 fragment of E. coli haemolysin A at several "
        "concentrations, with matched buffers, to follow its folding after type I secretion."
    ),
    start=at("2023-04-25 09:00"),
    end=at("2023-04-26 09:00"),
    release=at("2028-04-26 09:00"),  # the default (end + 3 years) extended by 2 years on request
    members=[("bob", InvestigationUser.Role.PARTICIPANT)],
    samples={
        SAXS_SAMPLE: (
            "Folded HlyA1 in sample changer plate 1, with its matched buffer",
            {
                "Sample_protein_name": "Haemolysin A fragment 1 (HlyA1), folded",
                "Sample_protein_acronym": "HlyA1",
                "Sample_buffer": "20 mM HEPES pH 7.5, 150 mM NaCl",
            },
        )
    },
    datasets=_saxs_datasets,
)


# --- HiP-CT: LS-3187 on BM05 -------------------------------------------------------------------

TOMO_SAMPLE = "LADAF-2020-27_left_lung"
TOMO_SCAN = {
    "TOMO_source": "BM05 EBS dipole wiggler 0.85T",
    "InstrumentSource_current": 200,
    "InstrumentMonochromator_energy": {"value": 77, "unit": "keV"},
    "TOMO_exposure_time": 0.30,
    "TOMO_pixel_size": {"value": 2.51, "unit": "um"},
    "TOMO_scan_mode": "continuous",
    "TOMO_projections": 4000,
    "TOMO_dark_count": 400,
    "TOMO_detector_distance": {"value": 1.44, "unit": "m"},
    "TOMO_scan_geometry": "half acquisition",
    "TOMO_scan_range": 360,
    "TOMO_detector_size_x": 2048,
    "TOMO_detector_size_y": 1008,
    "TOMO_magnification": 2.61,
    "TOMO_scintillator": "LuAG:Ce 250 um",
    "TOMO_stage": "1.1,0.3 with 0.1 vertical shift",
    "TOMO_surface_dose_rate": 128,
    "TOMO_dose_rate": 34.7,
    "TOMO_volume_integrated_dose": 4.22,
    "TOMO_scan_time": 4.05,
    "TOMO_series_time": 0.5,
}


def _tomo_datasets(folder: SessionFolder) -> None:
    for zoom, scan_start in [("A", "2021-05-18 14:02:10"), ("B", "2021-05-18 14:11:45")]:
        name = f"1400_251um_LADAF_2020-27_left_lung_FSC_{zoom}"
        start = at(scan_start)
        scan = folder.add(
            name,
            f"RAW_DATA/{TOMO_SAMPLE}/{name}",
            sample=TOMO_SAMPLE,
            definition="TOMO_SCAN",
            start_date=start,
            end_date=start + timedelta(minutes=4.05),
            files={
                f"{name}.h5": _placeholder("HDF5 (Bliss dataset)", name),
                **{f"scan0002/pcoedge64_{n:04d}.h5": _placeholder("HDF5 (projections)", name) for n in range(8)},
                "scan0001/pcoedge64_0000.h5": _placeholder("HDF5 (darks)", name),
                "scan0003/pcoedge64_0000.h5": _placeholder("HDF5 (flats)", name),
            },
            parameters=TOMO_SCAN,
        )
        reconstruction_start = at("2021-05-19 10:00") + (timedelta(hours=2) if zoom == "B" else timedelta())
        folder.add(
            f"{name} reconstruction",
            f"PROCESSED_DATA/{TOMO_SAMPLE}/{name}/nabu",
            sample=TOMO_SAMPLE,
            kind="processed",
            definition="TOMO_RECONSTRUCTION",
            inputs=[scan],
            start_date=reconstruction_start,
            end_date=reconstruction_start + timedelta(minutes=95),
            files={
                "nabu.conf": _text(
                    "[reconstruction]", "method = FBP", "[phase]", "method = paganin", "delta_beta = 1000"
                ),
                "nabu.log": _text(f"nabu: reconstructed {name}: 3823 x 3823 x 1008 voxels of 2.51 um"),
                f"{name}_preview.png": _slice_png(grain=0.9 if zoom == "A" else 0.7),
                **{
                    f"slices/{name}_{z:04d}.jp2": _placeholder("JPEG 2000 (slice)", f"{name} z={z}")
                    for z in range(0, 1008, 112)
                },
            },
            parameters={
                "TOMO_reconstruction_program": "nabu 2021.1",
                "TOMO_reconstruction_method": "filtered back-projection",
                "TOMO_phase_retrieval": "Paganin",
                "TOMO_delta_beta": 1000,
                "TOMO_voxel_size": 2.51,
                "TOMO_volume_x": 3823,
                "TOMO_volume_y": 3823,
                "TOMO_volume_z": 1008,
            },
        )


TOMO_SESSION = DemoSession(
    proposal="LS-3187",
    visit_id="bm05-20210517",
    instrument="BM05",
    title="Two zooms at 2.51 um in the upper spatial half of the left lung from the body donor LADAF-2020-27",
    summary=(
        "Two zooms in local tomography at 2.51 um resolution performed on the left lung of LADAF-2020-27 "
        "using half acquisition mode. Both volumes are centred on the same location with small "
        "modifications for Fourier shell correlation analysis of the resolution."
    ),
    start=at("2021-05-17 08:00"),
    end=at("2021-05-20 08:00"),
    release=at("2029-05-20 08:00"),  # embargo extended while the Human Organ Atlas paper is prepared
    members=[],
    samples={
        TOMO_SAMPLE: (
            "Complete lung tissue from the body donor programme of the Laboratoire d'Anatomie des Alpes "
            "Françaises (LADAF)",
            {
                "SamplePatient_id": "LADAF-2020-27",
                "SamplePatient_age": 94,
                "SamplePatient_sex": "female",
                "SamplePatient_organ": "left lung",
                "SamplePatient_institute": "Laboratoire d'Anatomie des Alpes Françaises",
                "SamplePatient_info": (
                    "Right Sylvian and right cerebellar stroke, cognitive disorders of vascular origin, "
                    "right lung pneumopathy before death"
                ),
                "Sample_preparation": (
                    "Formalin fixed, progressive transfer to ethanol 70% with inflation using ethanol at each "
                    "step alternately with vacuum degassing, mounted with agar gel"
                ),
            },
        )
    },
    datasets=_tomo_datasets,
)


# --- Cryo-ET: MX-2601 on CM01 ------------------------------------------------------------------

ET_SAMPLE = "HlyBD_Ecoli_lamella_03"
ET_TILTS = [0.0] + [sign * 3.0 * step for step in range(1, 21) for sign in (1, -1)]  # dose-symmetric order


def _tilt_files(series: str, extension: str, kind: str) -> dict[str, bytes]:
    return {
        f"{series}_{n:03d}_{angle:.1f}.{extension}": _placeholder(kind, f"{series} tilt {angle:+.1f} deg")
        for n, angle in enumerate(ET_TILTS, start=1)
    }


def _et_datasets(folder: SessionFolder) -> None:
    # The second tilt series is motion corrected and CTF estimated, but not yet reconstructed.
    for series, start, reconstructed in [
        ("TS_01", at("2026-10-14 21:12:00"), True),
        ("TS_02", at("2026-10-14 22:05:00"), False),
    ]:
        tilt_series = folder.add(
            series,
            f"RAW_DATA/{ET_SAMPLE}/{series}",
            sample=ET_SAMPLE,
            definition="ET_TILT_SERIES",
            start_date=start,
            end_date=start + timedelta(minutes=36),
            files={**_tilt_files(series, "tif", "TIFF movie (10 frames)"), f"{series}.mdoc": _text("[T = SerialEM]")},
            parameters={
                "EM_grid_name": "grid3",
                "EM_voltage": {"value": 300000, "unit": "V"},
                "EM_magnification": 42000,
                "EM_sampling_rate": 2.14,
                "EM_spherical_aberration": 2.7,
                "EM_amplitude_contrast": 10,
                "EM_energy_filter_slit_width": 20,
                "EM_images_count": 10,
                "EM_exposure_time": 1.2,
                "EM_dose_initial": 0,
                "EM_dose_per_frame": 0.3,
                "EM_defocus": {"value": -4000, "unit": "nm"},
                "EM_position_x": 112.4 if series == "TS_01" else 87.9,
                "EM_position_y": -35.2 if series == "TS_01" else -12.6,
                "ET_tilt_scheme": "dose-symmetric",
                "ET_tilt_angle_min": -60,
                "ET_tilt_angle_max": 60,
                "ET_tilt_step": 3,
                "ET_tilts_count": len(ET_TILTS),
                "ET_tilt_axis_angle": 85.3,
                "ET_total_dose": 123,
                "InstrumentDetector_model": "Gatan K3",
            },
        )
        motion_correction = folder.add(
            f"{series} motion correction",
            f"PROCESSED_DATA/{ET_SAMPLE}/{series}/motioncor",
            sample=ET_SAMPLE,
            kind="processed",
            definition="ET_MOTION_CORRECTION",
            inputs=[tilt_series],
            start_date=start + timedelta(minutes=37),
            end_date=start + timedelta(minutes=41),
            files={
                **_tilt_files(series, "mrc", "MRC (motion-corrected sum)"),
                "motioncor.log": _text("MotionCor2 1.6.4"),
            },
            parameters={
                "EMMotionCorrection_program": "MotionCor2 1.6.4",
                "EMMotionCorrection_frame_range": "1-10",
                "EMMotionCorrection_total_motion": 6.8,
                "EMMotionCorrection_average_motion": 0.68,
                "EMMotionCorrection_frame_dose": 0.3,
                "EMMotionCorrection_total_dose": 3.0,
            },
        )
        ctf = folder.add(
            f"{series} CTF",
            f"PROCESSED_DATA/{ET_SAMPLE}/{series}/ctffind",
            sample=ET_SAMPLE,
            kind="processed",
            definition="ET_CTF",
            inputs=[motion_correction],
            start_date=start + timedelta(minutes=41),
            end_date=start + timedelta(minutes=43),
            files={
                f"{series}_ctf.mrc": _placeholder("MRC (power spectra and fits)", series),
                f"{series}_ctf.txt": _text("# CTFFIND 4.1.14: tilt, defocus 1, defocus 2, astigmatism, resolution"),
                f"{series}_ctf_avrot.txt": _text("# rotational averages of the power spectra"),
            },
            parameters={
                "EMCTF_program": "CTFFIND 4.1.14",
                "EMCTF_resolution_limit": 7.9 if series == "TS_01" else 9.4,
                "EMCTF_correlation": 0.21,
                "EMCTF_defocus_u": {"value": 4.123, "unit": "um"},
                "EMCTF_defocus_v": {"value": 4.011, "unit": "um"},
                "EMCTF_angle": 34.2,
                "EMCTF_estimated_b_factor": 120,
            },
        )
        if reconstructed:
            folder.add(
                f"{series} tomogram",
                f"PROCESSED_DATA/{ET_SAMPLE}/{series}/aretomo",
                sample=ET_SAMPLE,
                kind="processed",
                definition="ET_TOMOGRAM",
                inputs=[ctf],
                start_date=start + timedelta(minutes=44),
                end_date=start + timedelta(minutes=52),
                files={
                    f"{series}_bin4.mrc": _placeholder("MRC (tomogram)", series),
                    f"{series}.aln": _text("# AreTomo alignment file", f"# tilts {len(ET_TILTS)}"),
                    f"{series}_preview.png": _slice_png(grain=1.3),
                },
                parameters={
                    "ET_tilts_count": len(ET_TILTS),
                    "ET_alignment_program": "AreTomo 1.3.4",
                    "ET_alignment_residual": 1.1,
                    "ET_reconstruction_program": "AreTomo 1.3.4",
                    "ET_reconstruction_method": "WBP",
                    "ET_tomogram_binning": 4,
                    "ET_tomogram_voxel_size": 8.56,
                    "ET_tomogram_size_x": 1440,
                    "ET_tomogram_size_y": 1023,
                    "ET_tomogram_size_z": 300,
                    "ET_tomogram_thickness": 180,
                },
            )


ET_SESSION = DemoSession(
    proposal="MX-2601",
    visit_id="cm01-20261014",
    instrument="CM01",
    title="In situ architecture of the haemolysin A type I secretion system",
    summary=(
        "Cryo-electron tomography of FIB-milled lamellae of E. coli cells expressing HlyB/HlyD, to see the "
        "assembled secretion system in the cell envelope."
    ),
    start=at("2026-10-14 09:00"),
    end=at("2026-10-16 09:00"),
    release=None,
    members=[("alice", InvestigationUser.Role.PRINCIPAL_INVESTIGATOR)],
    samples={
        ET_SAMPLE: (
            "FIB-milled lamella 3 of E. coli cells expressing HlyB and HlyD, on grid 3",
            {"Sample_protein_name": "HlyB-HlyD-TolC", "Sample_preparation": "Plunge frozen, FIB-milled to 180 nm"},
        )
    },
    datasets=_et_datasets,
)

SESSIONS = [MX_SESSION, SAXS_SESSION, TOMO_SESSION, ET_SESSION]


# --- Loading -----------------------------------------------------------------------------------


def _upsert(model, lookup: dict, values: dict) -> tuple[object, str]:
    """Create, or update only the fields that differ; returns (object, outcome)."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        return model.objects.create(**lookup, **values), CREATED
    if all(getattr(obj, key) == value for key, value in values.items()):
        return obj, EXISTING
    for key, value in values.items():
        setattr(obj, key, value)
    obj.save()
    return obj, UPDATED


def _user(report: DemoReport, spec: DemoUser, password: str):
    fields = asdict(spec)
    user, outcome = _upsert(get_user_model(), {"username": fields.pop("username")}, fields)
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
        if outcome == EXISTING:
            outcome = UPDATED
    report.count("users", outcome)
    return user


def _sample_parameters(name: str, parameters: dict) -> dict:
    validated = validate_parameters(parameters)
    if validated.errors:
        raise DemoError(f"sample {name}: {validated.errors}")
    return validated.values


def _write_missing(location: Path, files: dict[str, bytes]) -> int:
    written = 0
    for relative, content in files.items():
        path = location / relative
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            written += 1
    return written


def _load_session(report: DemoReport, session: DemoSession, users: dict, actor: Actor) -> None:
    investigation, outcome = _upsert(
        Investigation,
        {"name": session.proposal, "visit_id": session.visit_id},
        {
            "instrument": Instrument.objects.get(name=session.instrument),
            "title": session.title,
            "summary": session.summary,
            "start_date": session.start,
            "end_date": session.end,
            "release_date": session.release_date(),
        },
    )
    report.count("investigations", outcome)
    for username, role in session.members:
        _member, outcome = _upsert(
            InvestigationUser, {"investigation": investigation, "user": users[username], "role": role}, {}
        )
        report.count("investigation members", outcome)
    for name, (description, parameters) in session.samples.items():
        _sample, outcome = _upsert(
            Sample,
            {"investigation": investigation, "name": name},
            {"description": description, "parameters": _sample_parameters(name, parameters)},
        )
        report.count("samples", outcome)

    folder = SessionFolder(session, Path(locations.investigation_folders(investigation)[0]))
    session.datasets(folder)
    for item in folder.datasets:
        written = _write_missing(Path(item.request.location), item.files)
        report.count("files on disk", WRITTEN, written)
        report.count("files on disk", EXISTING, len(item.files) - written)
        try:
            _dataset, created = dataset_store(actor=actor, request=item.request)
        except IngestionError as exc:
            raise DemoError(f"dataset {item.request.name} of {session.proposal}: {exc.errors}") from exc
        report.count("datasets", CREATED if created else EXISTING)


def _api_key(report: DemoReport) -> str:
    """Create the demo key once; returns its secret, or "" when it already exists."""
    instrument = Instrument.objects.get(name=API_KEY_INSTRUMENT)
    if InstrumentApiKey.objects.filter(instrument=instrument, name=API_KEY_NAME).exists():
        report.count("API keys", EXISTING)
        return ""
    _key, secret = api_key_create(instrument=instrument, name=API_KEY_NAME)
    report.count("API keys", CREATED)
    return secret


@transaction.atomic
def load_demo(*, password: str) -> DemoReport:
    """Create or update the demo; all or nothing (files written before a failure stay, harmlessly)."""
    report = DemoReport()
    users = {spec.username: _user(report, spec, password) for spec in USERS}
    for instrument in INSTRUMENTS:
        _instrument, outcome = _upsert(
            Instrument,
            {"name": instrument.name},
            {"full_name": instrument.full_name, "description": instrument.description},
        )
        report.count("instruments", outcome)
    for username, instrument in SCIENTISTS:
        _scientist, outcome = _upsert(
            InstrumentScientist, {"user": users[username], "instrument": Instrument.objects.get(name=instrument)}, {}
        )
        report.count("instrument scientists", outcome)
    actor = Actor(user=users[ADMIN])  # staff may store datasets in any investigation
    for session in SESSIONS:
        _load_session(report, session, users, actor)
    report.api_key_secret = _api_key(report)
    return report


def account_roles() -> dict[str, list[str]]:
    """What each demo account may do, for the sign-in table."""
    roles = {user.username: ["facility admin (staff, superuser)"] if user.is_staff else [] for user in USERS}
    for username, instrument in SCIENTISTS:
        roles[username].append(f"instrument scientist of {instrument}")
    for session in SESSIONS:
        for username, role in session.members:
            label = InvestigationUser.Role(role).label.lower()
            roles[username].append(f"{label} of {session.proposal} ({session.instrument})")
    return roles
