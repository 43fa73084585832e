"""The files a ``Settings`` names, read once before the rules are applied."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from nb_core.io import (
    FGrid,
    SourceTable,
    experiment_matrix,
    grid_from_hkl,
    is_experiment_list,
    read_fdump,
    read_hkl,
    read_matrix,
    read_smv,
    read_sourcefile,
)
from nb_core.resolve._conventions import beam_vector_for
from nb_core.settings import Settings

__all__ = ["Inputs", "load_inputs"]


@dataclass(frozen=True)
class Inputs:
    """Data read from the files a ``Settings`` names.

    Attributes:
        matrix: ``(3, 3)`` rows a*, b*, c* as in the MOSFLM file (Å⁻¹ times wavelength).
        fgrid: Structure-factor grid from ``-hkl`` or the dump file.
        fgrid_from: ``"hkl"`` or ``"dump"``: where ``fgrid`` came from.
        sources: Sources from ``-sourcefile`` (defaults for missing columns applied).
        mask: ``(spixels, fpixels)`` bool, True where the ``-mask`` image is non-zero.
    """

    matrix: np.ndarray | None = None
    fgrid: FGrid | None = None
    fgrid_from: Literal["hkl", "dump"] | None = None
    sources: SourceTable | None = None
    mask: np.ndarray | None = None


def load_inputs(settings: Settings, *, workdir: str | Path = ".") -> Inputs:
    """Read the files named by ``settings`` (matrix, HKL or dump, sources, mask).

    The orientation matrix file is a MOSFLM matrix, or a DIALS experiment list whose crystal
    gives the matrix (scaled by ``-lambda`` as a MOSFLM file is).

    Without ``-hkl``, a dump file in ``workdir`` is read if present (the C program does this
    silently; callers should say so).

    Args:
        settings: The user's settings.
        workdir: Folder for the dump file and relative paths.

    Returns:
        The data read.

    Raises:
        InputError: A file is missing or malformed.
    """
    base = Path(workdir)

    def path(name: str) -> Path:
        p = Path(name)
        return p if p.is_absolute() else base / p

    matrix = None
    if settings.matrix_file:
        matrix_path = path(settings.matrix_file)
        if is_experiment_list(matrix_path):  # a DIALS experiment list's crystal
            matrix = experiment_matrix(matrix_path, settings.lambda_A)
        else:
            matrix = read_matrix(matrix_path)
    fgrid = None
    origin: Literal["hkl", "dump"] | None = None
    if settings.hkl_file:
        fgrid = grid_from_hkl(read_hkl(path(settings.hkl_file)), settings.default_F)
        origin = "hkl"
    else:
        dump = path(settings.dump_file)
        if dump.is_file():
            fgrid = read_fdump(dump)
            origin = "dump"
    sources = None
    if settings.source_file:
        sources = read_sourcefile(
            path(settings.source_file), beam_vector_for(settings), settings.lambda_A / 1.0e10
        )
    mask = None
    if settings.mask_file:
        mask = read_smv(path(settings.mask_file)).data != 0
    return Inputs(matrix=matrix, fgrid=fgrid, fgrid_from=origin, sources=sources, mask=mask)
