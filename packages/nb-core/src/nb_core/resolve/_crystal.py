"""The crystal: unit cell or orientation matrix, misset, mosaic domains, and its size."""

from __future__ import annotations

import math

import numpy as np
from torch import Tensor

from nb_core.crystal.lattice import crystal_basis
from nb_core.crystal.orientation import random_misset
from nb_core.errors import InputError
from nb_core.options import Quirks
from nb_core.params import Params, Static
from nb_core.resolve._conventions import Vec, convention_vectors, unit
from nb_core.resolve._inputs import Inputs
from nb_core.resolve._report import (
    CrystalReport,
    LatticeReport,
    Resolved,
    SamplingReport,
    Vec3,
    float64_tensor,
)
from nb_core.rng import CRandom, Seed, mosaic_draws
from nb_core.settings import Settings, clock_seed
from nb_core.units import RTD

__all__ = [
    "crystal_params",
    "phi_sources",
    "require_crystal",
    "resolve_crystal",
    "resolve_lattice",
    "unit_cell",
]


def require_crystal(settings: Settings) -> None:
    """Refuse a run with neither ``-cell`` nor ``-mat``.

    Raises:
        InputError: No crystal is given.
    """
    if settings.matrix_file is None and settings.cell[0] == 0.0:
        raise InputError("no crystal given: use -cell a b c alpha beta gamma or -mat FILE")


def unit_cell(settings: Settings) -> list[float]:
    """The cell from ``-cell``: a missing edge is a, a missing angle 90 degrees.

    Returns:
        ``(6,)`` a, b, c (Å) and alpha, beta, gamma (rad).
    """
    cell = list(settings.cell)
    a_len, b_len, c_len = cell[0], cell[1], cell[2]
    alpha, beta, gamma = cell[3] / RTD, cell[4] / RTD, cell[5] / RTD
    if settings.user_cell:
        b_len = a_len if b_len <= 0.0 else b_len
        c_len = a_len if c_len <= 0.0 else c_len
        alpha = math.pi / 2 if alpha <= 0.0 else alpha
        beta = math.pi / 2 if beta <= 0.0 else beta
        gamma = math.pi / 2 if gamma <= 0.0 else gamma
    return [a_len, b_len, c_len, alpha, beta, gamma]


def misset_angles(
    settings: Settings, quirks: Quirks, rng: CRandom
) -> tuple[list[float], tuple[str, ...]]:
    """Missetting rotations: ``-misset`` angles, or random ones drawn from ``rng``.

    A random misset without ``-misset_seed`` is seeded from the clock.

    Returns:
        ``(misset, notes)``: ``(3,)`` rotations about x, y, z (rad) and the C program's line.
    """
    if settings.misset_mode == "random":
        seed = settings.misset_seed if settings.misset_seed is not None else clock_seed()
        angles = random_misset(rng, Seed(seed), degrees_quirk=quirks.misset)
        misset = [float(x) for x in angles]
        note = (
            "random orientation misset angles: "
            f"{misset[0] * RTD:f} {misset[1] * RTD:f} {misset[2] * RTD:f} deg"
        )
        return misset, (note,)
    if settings.misset_mode == "angles":
        return [x / RTD for x in settings.misset_deg], ()
    return [0.0, 0.0, 0.0], ()


def phi_sources(phis: list[float]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Which step's rotation each phi step uses, given the C program's ``phi != 0`` test.

    Args:
        phis: The spindle angle of each phi step (rad).

    Returns:
        ``(steady, first)``: for later loops and for the very first loop of a run.
    """
    steady: list[int] = []
    first: list[int] = []
    n = len(phis)
    nonzero = [i for i, p in enumerate(phis) if p != 0.0]
    for i, p in enumerate(phis):
        if p != 0.0:
            steady.append(i)
            first.append(i)
            continue
        before = [j for j in nonzero if j < i]
        first.append(before[-1] if before else -1)
        if before:
            steady.append(before[-1])
        else:
            after = [j for j in nonzero if j > i]
            steady.append(after[-1] if after else -1)
    if n and steady == list(range(n)) and first == list(range(n)):
        return (), ()
    return tuple(steady), tuple(first)


def resolve_crystal(
    settings: Settings,
    inputs: Inputs,
    wavelength: float,
    sampling: SamplingReport,
    quirks: Quirks,
    rng: CRandom,
) -> Resolved[CrystalReport]:
    """The cell, orientation matrix, misset, spindle steps and mosaic domains.

    The misset draws from ``rng`` before the mosaic domains do, as in the C program.

    Args:
        settings: The user's settings.
        inputs: The files read (the orientation matrix).
        wavelength: lambda0 (m), which scales the matrix to Å⁻¹.
        sampling: The spindle steps and the mosaic domain count.
        quirks: Which C bugs to reproduce (``misset``).
        rng: The C program's random-number state.

    Returns:
        The crystal's parameters (Å, Å⁻¹, rad), static options and report.
    """
    s = settings
    notes: list[str] = []
    has_matrix = s.matrix_file is not None and inputs.matrix is not None
    if has_matrix:
        notes.append(f"reading {s.matrix_file}")
    misset, misset_notes = misset_angles(s, quirks, rng)
    spindle, _ = unit(convention_vectors(s)["spindle"])
    domains = sampling.mosaic_domains
    draws = mosaic_draws(domains, rng, Seed(s.mosaic_seed))
    mosaic_axes = np.asarray(draws.axes, dtype=np.float64).reshape(domains, 3)
    fractions = np.asarray(draws.fractions, dtype=np.float64).reshape(domains).copy()
    fractions[0] = 0.0  # the C program forces the first domain to the identity
    params = dict(
        n_cells=list(s.n_cells),
        spindle=spindle,
        mosaic_axes=mosaic_axes,
        mosaic_fractions=fractions,
        fudge=s.fudge,
    )
    phis = tuple(sampling.phi0 + sampling.phistep * tic for tic in range(sampling.phisteps))
    phi_source, phi_source_first = phi_sources(list(phis))
    static = dict(
        user_cell=s.user_cell,
        has_matrix=has_matrix,
        shape=s.shape,
        phi_source=phi_source,
        phi_source_first=phi_source_first,
    )
    report = CrystalReport(
        spindle=(spindle[0], spindle[1], spindle[2]),
        phis=phis,
        misset=(misset[0], misset[1], misset[2]),
        notes=(*notes, *misset_notes),
    )
    orientation = crystal_params(s, inputs, wavelength, misset)
    return Resolved(
        {**orientation, **{k: float64_tensor(v) for k, v in params.items()}}, static, report
    )


def crystal_params(
    settings: Settings, inputs: Inputs, wavelength: float, misset: list[float]
) -> dict[str, Tensor]:
    """The cell, orientation matrix and missetting tensors of ``Params``, as resolve makes them.

    Args:
        settings: The user's settings (``-cell``, ``-mat``).
        inputs: The files read (the orientation matrix).
        wavelength: lambda0 (m), which scales the matrix to Å⁻¹.
        misset: ``(3,)`` missetting rotations about x, y, z (rad).

    Returns:
        float64 ``cell`` ``(6,)`` (Å, rad), ``reciprocal`` ``(3, 3)`` (Å⁻¹; zeros without a
        matrix) and ``misset`` ``(3,)`` (rad).
    """
    reciprocal = np.zeros((3, 3))
    if settings.matrix_file is not None and inputs.matrix is not None:
        reciprocal = np.asarray(inputs.matrix, dtype=np.float64) * (1e-10 / wavelength)
    return {
        "cell": float64_tensor(unit_cell(settings)),
        "reciprocal": float64_tensor(reciprocal),
        "misset": float64_tensor(misset),
    }


def _rows(matrix: np.ndarray) -> tuple[Vec3, Vec3, Vec3]:
    """The rows of a ``(3, 3)`` array as plain floats."""
    a, b, c = ((float(r[0]), float(r[1]), float(r[2])) for r in matrix)
    return a, b, c


def _cell(values: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """A ``(6,)`` cell (three edges, three angles) as plain floats."""
    a, b, c, alpha, beta, gamma = (float(x) for x in values)
    return a, b, c, alpha, beta, gamma


def resolve_lattice(
    settings: Settings, params: Params, static: Static, sample_size: Vec
) -> LatticeReport:
    """The unit cell at phi = 0 and the unit-cell counts a crystal size asks for.

    A crystal size along an axis (``-xtalsize``, clipped by the beam) gives
    ``ceil(size / edge)`` cells; every count is at least 1.

    Args:
        settings: The user's settings (``-N``).
        params: Float64 parameters (cell, reciprocal, misset).
        static: Static options (user_cell, has_matrix).
        sample_size: ``(3,)`` crystal size along a, b, c (m; 0: from ``-N``).

    Returns:
        The cell, its vectors, the unit-cell counts, the crystal's size and its weight.
    """
    basis = crystal_basis(params, static)
    real = basis.real.detach().double().cpu().numpy()
    recip = basis.reciprocal.detach().double().cpu().numpy()
    lengths = [float(np.sqrt((real[i] ** 2).sum())) for i in range(3)]
    n_cells = list(settings.n_cells)
    for i in range(3):
        if sample_size[i] > 0:
            n_cells[i] = float(math.ceil(sample_size[i] / lengths[i]))
        if n_cells[i] <= 1.0:
            n_cells[i] = 1.0
    size = [lengths[i] * n_cells[i] for i in range(3)]
    volume = size[0] * size[1] * size[2]
    molecules = n_cells[0] * n_cells[1] * n_cells[2]
    cell = basis.cell.detach().double().cpu().numpy()
    reciprocal_cell = basis.reciprocal_cell.detach().double().cpu().numpy()
    return LatticeReport(
        cell=_cell(cell),
        reciprocal_cell=_cell(reciprocal_cell),
        volume=float(basis.volume),
        real=_rows(real),
        reciprocal=_rows(recip),
        n_cells=(n_cells[0], n_cells[1], n_cells[2]),
        crystal_size=(size[0], size[1], size[2]),
        approximate_mw=volume * 1.2e6 * 6.02214179e23 / molecules,
    )
