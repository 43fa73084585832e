"""The files a ``Settings`` names, read once before the rules are applied."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from nb_core.errors import InputError
from nb_core.io import (
    FGrid,
    HklTable,
    SourceTable,
    StructureFactorSource,
    default_model_dmin,
    experiment_matrix,
    grid_from_hkl,
    is_experiment_list,
    read_fdump,
    read_hkl,
    read_matrix,
    read_smv,
    read_sourcefile,
    read_structure_factors,
    structure_factor_format,
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
        fgrid_source: For an MTZ, mmCIF or model ``-hkl`` file, what was read from it.
        sources: Sources from ``-sourcefile`` (defaults for missing columns applied).
        mask: ``(spixels, fpixels)`` bool, True where the ``-mask`` image is non-zero.
    """

    matrix: np.ndarray | None = None
    fgrid: FGrid | None = None
    fgrid_from: Literal["hkl", "dump"] | None = None
    fgrid_source: StructureFactorSource | None = None
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
    table, read_from = _reflections(settings, path)
    if table is not None:
        fgrid = grid_from_hkl(table, settings.default_F)
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
    return Inputs(
        matrix=matrix,
        fgrid=fgrid,
        fgrid_from=origin,
        fgrid_source=read_from,
        sources=sources,
        mask=mask,
    )


def _reflections(
    settings: Settings, path: Callable[[str], Path]
) -> tuple[HklTable | None, StructureFactorSource | None]:
    """The reflections of ``-hkl`` (HKL text, or MTZ, mmCIF or a model through gemmi).

    Raises:
        InputError: A file is unreadable, or ``-sf_column``/``-model_dmin`` do not apply.
    """
    name = settings.hkl_file
    fmt = structure_factor_format(name) if name else None
    if settings.sf_column is not None and fmt not in ("mtz", "cif"):
        raise InputError(
            "applies only to an MTZ or mmCIF -hkl file (.mtz, .cif, .mmcif)", "-sf_column"
        )
    if settings.model_dmin_A is not None and fmt not in ("cif", "pdb"):
        raise InputError(
            "applies only to a model -hkl file (.pdb, .ent, .cif, .mmcif)", "-model_dmin"
        )
    if not name:
        return None, None
    if fmt is None:
        return read_hkl(path(name)), None
    dmin = settings.model_dmin_A
    return read_structure_factors(
        path(name),
        column=settings.sf_column,
        model_dmin_A=default_model_dmin(settings.lambda_A) if dmin is None else dmin,
    )
