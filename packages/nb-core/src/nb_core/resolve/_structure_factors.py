"""Structure factors: the grid, the default amplitude, and the interpolation switch."""

from __future__ import annotations

import numpy as np

from nb_core.errors import InputError
from nb_core.io import StructureFactorSource
from nb_core.resolve._inputs import Inputs
from nb_core.resolve._report import Resolved, StructureFactorReport, float64_tensor
from nb_core.settings import Settings

__all__ = ["require_structure_factors", "resolve_structure_factors"]


def require_structure_factors(settings: Settings, inputs: Inputs) -> None:
    """Refuse a run with no HKL file, no dump file and no default amplitude.

    Raises:
        InputError: Nothing gives a structure factor.
    """
    if settings.hkl_file is None and inputs.fgrid is None and settings.default_F == 0.0:
        raise InputError("no -hkl file, no dump file to read, and -default_F is 0")


def interpolation_switch(settings: Settings) -> tuple[int, tuple[str, ...]]:
    """``-interpolate`` as given, else on only for a crystal of at most 2 cells along an axis.

    Returns:
        ``(interpolate, notes)``: 1 on, 0 off, and the C program's note on an automatic choice.
    """
    na, nb, nc = settings.n_cells
    interpolate = settings.interpolate
    if interpolate > 1:
        if na <= 2 or nb <= 2 or nc <= 2:
            return 1, ("auto-selected tricubic interpolation of structure factors",)
        return 0, ("auto-selected no interpolation",)
    return interpolate, ()


def reading_notes(settings: Settings, inputs: Inputs) -> tuple[str, ...]:
    """The C program's lines about reading the dump file, or reading the HKL file."""
    s = settings
    if inputs.fgrid is not None and inputs.fgrid_from == "dump":
        return (f"reading Fs from {s.dump_file}",)
    notes: list[str] = []
    read_from = inputs.fgrid_source
    if inputs.fgrid is not None and s.hkl_file is not None and read_from is not None:
        notes.append(_gemmi_line(s.hkl_file, read_from, inputs.fgrid.count))
        notes.extend(read_from.notes)
    elif inputs.fgrid is not None and s.hkl_file is not None:
        notes.append(f"counting entries in {s.hkl_file}")
        if s.default_F != 0.0:
            notes.append(f"initializing to default_F = {s.default_F:g}:")
            notes.append("done initializing:")
        notes.append(f"re-reading {s.hkl_file}")
    if inputs.fgrid is not None and s.hkl_file is not None:
        notes.append(f"writing dump file for next time: {s.dump_file}")
    return tuple(notes)


def _gemmi_line(name: str, read_from: StructureFactorSource, p1_count: int) -> str:
    """``reading F from X.mtz (MTZ column FP, P 21 21 21): 812 reflections, 6496 in P1 ...``."""
    if read_from.kind == "model":
        what = f"computed from the model to {read_from.d_min_A:g} Å"
    elif read_from.kind == "mtz":
        what = f"MTZ column {read_from.column}"
    else:
        what = f"_refln.{read_from.column}"
    return (
        f"reading F from {name} ({what}, {read_from.space_group}): {read_from.reflections} "
        f"reflections, {p1_count} in P1 with their Friedel mates"
    )


def resolve_structure_factors(
    settings: Settings, inputs: Inputs
) -> Resolved[StructureFactorReport]:
    """The structure-factor grid, its origin, the default amplitude and interpolation.

    Interpolation is off whenever the grid holds no reflection.

    Args:
        settings: The user's settings.
        inputs: The files read (the grid from ``-hkl`` or the dump file).

    Returns:
        The grid (electrons), default_F and resolution cutoff (m), the static switches, and
        the report.
    """
    s = settings
    interpolate, switch_notes = interpolation_switch(s)
    fgrid = inputs.fgrid
    if fgrid is not None:
        grid_values = np.asarray(fgrid.values, dtype=np.float64)
        origin = (int(fgrid.h_min), int(fgrid.k_min), int(fgrid.l_min))
        hkls = int(fgrid.count)
    else:
        grid_values = np.zeros((1, 1, 1))
        origin = (0, 0, 0)
        hkls = 0
    if hkls == 0:
        interpolate = 0
    params = dict(
        f_grid=float64_tensor(grid_values),
        default_F=float64_tensor(s.default_F),
        dmin=float64_tensor(s.dmin_A * 1e-10),
    )
    static = dict(
        interpolate=bool(interpolate),
        has_hkl=hkls > 0,
        grid_origin=origin,
        has_dmin=s.dmin_A * 1e-10 > 0.0,
    )
    report = StructureFactorReport(
        hkls=hkls,
        default_F=s.default_F,
        interpolate=bool(interpolate),
        switch_notes=switch_notes,
        reading_notes=reading_notes(s, inputs),
    )
    return Resolved(params, static, report)
