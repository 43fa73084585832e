"""The manifest of a data set: each image's files and the true parameters it was made with."""

from __future__ import annotations

import csv
import io
import shlex
from dataclasses import dataclass

import numpy as np

from nb_core.errors import InputError
from nb_core.params import Experiment
from nb_core.units import RTD

__all__ = [
    "MANIFEST_COLUMNS",
    "ImageRecord",
    "check_parquet",
    "image_record",
    "manifest_csv",
    "manifest_parquet",
]

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class ImageRecord:
    """One image of a data set and the values it was rendered with.

    Attributes:
        number: The image's number.
        files: The image files written (paths as the flags name them).
        argv: Flags that make this image alone with ``nb simulate`` (or the C program).
        seed: The noise seed (the ``-seed`` value).
        phi_deg: Spindle start (deg).
        osc_deg: Oscillation range (deg).
        misset_deg: Missetting rotations about x, y, z (deg).
        amatrix: ``(3, 3)`` as nested tuples: the orientation as a MOSFLM ``A`` matrix, rows
            a*, b*, c* (Å⁻¹: the dual of the real-space cell the render uses at phi = 0, in
            float64) times the wavelength (Å): what ``-mat`` reads
            (:func:`nb_core.io.matrix_text` writes it).
        mosaic_deg: Mosaic spread (deg).
        n_cells: Unit cells along a, b, c.
        fluence: Photons/m^2.
        lambda_A: Central wavelength (Å).
        matfile: The orientation matrix file written for this image, or None.
    """

    number: int
    files: tuple[str, ...]
    argv: tuple[str, ...]
    seed: int
    phi_deg: float
    osc_deg: float
    misset_deg: Vec3
    amatrix: tuple[Vec3, Vec3, Vec3]
    mosaic_deg: float
    n_cells: Vec3
    fluence: float
    lambda_A: float
    matfile: str | None = None


def _rows(matrix: np.ndarray) -> tuple[Vec3, Vec3, Vec3]:
    a, b, c = ((float(r[0]), float(r[1]), float(r[2])) for r in matrix)
    return a, b, c


def image_record(
    number: int,
    experiment: Experiment,
    *,
    files: tuple[str, ...],
    argv: tuple[str, ...],
    seed: int,
    matfile: str | None = None,
) -> ImageRecord:
    """The record of an image from its resolved experiment.

    Args:
        number: The image's number.
        experiment: Its resolved experiment.
        files: The image files it writes.
        argv: Flags that make it alone.
        seed: Its noise seed (the ``-seed`` value).
        matfile: Its orientation matrix file, if one is written.

    Returns:
        The record.
    """
    report = experiment.report
    # The dual of the real-space vectors the render uses: a -mat file of it gives them back
    # (the C program's own reciprocal vectors of a -cell can differ from it by ~1e-5).
    real_A = np.asarray(report.lattice.real, dtype=np.float64) * 1e10
    reciprocal = np.linalg.inv(real_A).T
    wavelength_A = report.beam.wavelength * 1e10
    mx, my, mz = (float(x) * RTD for x in report.crystal.misset)
    return ImageRecord(
        number=number,
        files=files,
        argv=argv,
        seed=seed,
        phi_deg=report.sampling.phi0 * RTD,
        osc_deg=report.sampling.osc * RTD,
        misset_deg=(mx, my, mz),
        amatrix=_rows(reciprocal * wavelength_A),
        mosaic_deg=report.sampling.mosaic_spread * RTD,
        n_cells=report.lattice.n_cells,
        fluence=report.beam.fluence,
        lambda_A=wavelength_A,
        matfile=matfile,
    )


#: The manifest's columns; ``mat_ij`` is number j of line i of the ``-mat`` file
#: (``a*_i b*_i c*_i``, i = x, y, z).
MANIFEST_COLUMNS = (
    "number",
    "files",
    "matfile",
    "seed",
    "phi_deg",
    "osc_deg",
    "misset_x_deg",
    "misset_y_deg",
    "misset_z_deg",
    *(f"mat_{i}{j}" for i in (1, 2, 3) for j in (1, 2, 3)),
    "mosaic_deg",
    "Na",
    "Nb",
    "Nc",
    "fluence",
    "lambda_A",
    "argv",
)


def _values(record: ImageRecord) -> list[object]:
    """A record's values in :data:`MANIFEST_COLUMNS` order (floats exactly)."""
    matrix = [record.amatrix[k][i] for i in range(3) for k in range(3)]
    return [
        record.number,
        " ".join(record.files),
        record.matfile or "",
        record.seed,
        record.phi_deg,
        record.osc_deg,
        *record.misset_deg,
        *matrix,
        record.mosaic_deg,
        *record.n_cells,
        record.fluence,
        record.lambda_A,
        shlex.join(record.argv),
    ]


def manifest_csv(records: list[ImageRecord]) -> bytes:
    """The manifest as CSV, one row per image in number order, floats written exactly.

    Args:
        records: The images.

    Returns:
        The file's bytes (UTF-8, ``\\n`` line ends).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for record in sorted(records, key=lambda r: r.number):
        writer.writerow([repr(v) if isinstance(v, float) else v for v in _values(record)])
    return out.getvalue().encode("utf-8")


def check_parquet(path: str) -> None:
    """Refuse, before any work, a Parquet manifest without pyarrow.

    Args:
        path: The manifest file (named in the error).

    Raises:
        InputError: pyarrow is not installed (the ``parquet`` extra of nb-core).
    """
    try:
        import pyarrow.parquet  # noqa: F401  # pyright: ignore[reportMissingImports]
    except ImportError:
        raise InputError(
            "writing Parquet needs pyarrow: pip install 'nanobragg-torch[parquet]' (or name a .csv)",
            path,
        ) from None


def manifest_parquet(records: list[ImageRecord], path: str) -> bytes:
    """The manifest as a Parquet file (needs pyarrow: the ``parquet`` extra of nb-core).

    Args:
        records: The images.
        path: The file it is meant for (named in the error when pyarrow is missing).

    Returns:
        The file's bytes.

    Raises:
        InputError: pyarrow is not installed.
    """
    check_parquet(path)
    import pyarrow as pa  # pyright: ignore[reportMissingImports]
    import pyarrow.parquet as pq  # pyright: ignore[reportMissingImports]

    rows = [_values(r) for r in sorted(records, key=lambda r: r.number)]
    columns = {name: [row[i] for row in rows] for i, name in enumerate(MANIFEST_COLUMNS)}
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue().to_pybytes()
