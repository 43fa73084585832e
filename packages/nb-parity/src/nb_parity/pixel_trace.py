"""Every intermediate quantity of one pixel, as tables of plain values (``nb trace``).

:func:`trace_tables` evaluates one pixel through :func:`nb_core.trace.trace_pixel` and lays
out the detector, each sub-pixel, each source, the rotated cell per phi step and mosaic
domain, and every evaluation, as rows of numbers that print as tables or dump as JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from nb_core.crystal.lattice import crystal_basis, lattice_vectors, spindle_angles
from nb_core.errors import InputError
from nb_core.physics.lattice_factors import sincg
from nb_core.render import lattice_factor_signed
from nb_core.trace import trace_pixel

__all__ = ["TraceTable", "printout_flags", "trace_tables", "traced_settings_differ"]

#: A table of a pixel trace: title, column names, rows of plain values.
TraceTable = dict[str, Any]


def printout_flags(flags: Sequence[str], fpixel: int, spixel: int) -> list[str]:
    """The flags of the C program's trace of a pixel: ``flags -printout -printout_pixel F S``.

    The C program prints a pixel's block when run with these two flags after the user's, and
    its substring side effects read them like any other argument (a final ``-misset_seed N``
    takes ``N, atof("-printout"), atof("-printout_pixel")`` as misset angles); ``nb trace``
    resolves the same argument list, so that its block is the C program's.
    """
    return [*flags, "-printout", "-printout_pixel", str(fpixel), str(spixel)]


#: Settings the trace flags set themselves, or that come from the clock.
_TRACE_OWN = frozenset({"printout", "printout_pixel", "given", "seed", "misset_seed"})


def traced_settings_differ(flags: Sequence[str], traced: Sequence[str]) -> bool:
    """Whether ``traced`` (:func:`printout_flags`) resolves to other settings than ``flags``
    beyond the printout itself: a side effect of the last flags reads the trace flags."""
    from nb_cli.flags import parse_args

    def values(argv: Sequence[str]) -> dict[str, Any]:
        settings = asdict(parse_args(list(argv), read_headers=False).settings)
        return {k: v for k, v in settings.items() if k not in _TRACE_OWN}

    return values(flags) != values(traced)


def _vec(t: Any) -> list[float]:
    return [float(x) for x in t.reshape(-1).tolist()]


def trace_tables(prepared: Any, fpixel: int, spixel: int) -> tuple[Any, list[TraceTable]]:
    """Every intermediate quantity of one pixel, as tables of plain values.

    Args:
        prepared: A prepared run (:class:`nb_cli.simulate.Prepared`).
        fpixel: Fast index.
        spixel: Slow index.

    Returns:
        The trace (:class:`nb_core.trace.PixelTrace`) and the tables: detector, sub-pixels
        (per layer and sub-pixel), sources (per sub-pixel and source), lattice (per phi step
        and mosaic domain), evaluations (per sub-pixel, source, phi step and domain) and the
        pixel's factors. Lengths in m unless a column says Å; angles in degrees.

    Raises:
        InputError: The pixel is outside the detector.
    """
    exp = prepared.experiment
    params, static = exp.params, exp.static
    if not (0 <= fpixel < static.fpixels and 0 <= spixel < static.spixels):
        raise InputError(
            f"pixel ({fpixel}, {spixel}) is outside the {static.fpixels} x {static.spixels} "
            "detector"
        )
    with torch.no_grad():
        tr = trace_pixel(params, static, fpixel, spixel)
        tables = [
            _detector_table(exp.report.frame, params),
            _subpixel_table(tr.evaluation),
            _source_table(tr.evaluation, params),
            _lattice_table(params, static),
            _evaluation_table(tr.evaluation, params, static),
            _pixel_table(tr, static),
        ]
    return tr, tables


def _detector_table(frame: Any, params: Any) -> TraceTable:
    """The rotated detector axes, pix0 (m), the incident beam and the spindle."""
    return {
        "title": "detector (rotated axes; pix0 and beam in m)",
        "columns": ["vector", "x", "y", "z"],
        "rows": [
            [name, *v]
            for name, v in (
                ("fdet", list(frame.fdet)),
                ("sdet", list(frame.sdet)),
                ("odet", list(frame.odet)),
                ("pix0", list(frame.pix0)),
                ("incident beam", _vec(params.beam)),
                ("spindle", _vec(params.spindle)),
            )
        ],
    }


def _subpixel_table(ev: Any) -> TraceTable:
    """Position (m), diffracted direction, solid angle (sr) and capture per sub-pixel."""
    rows = []
    _, layers, subs, _ = ev.positions.shape
    for li in range(layers):
        for xi in range(subs):
            rows.append(
                [
                    [li, xi],
                    _vec(ev.positions[0, li, xi]),
                    _vec(ev.diffracted[0, li, xi]),
                    float(ev.omega[0, li, xi]),
                    float(ev.capture[0, li, xi]),
                ]
            )
    return {
        "title": "sub-pixels (per sensor layer and sub-pixel)",
        "columns": ["layer sub", "position (m)", "diffracted", "omega (sr)", "capfrac"],
        "rows": rows,
    }


def _source_table(ev: Any, params: Any) -> TraceTable:
    """Incident direction, scattering vector (1/Å), stol, cutoff and polarization per source."""
    _, layers, subs, _ = ev.positions.shape
    sources = ev.scattering.shape[3]
    rows = []
    for li in range(layers):
        for xi in range(subs):
            for si in range(sources):
                q = ev.scattering[0, li, xi, si]
                rows.append(
                    [
                        [li, xi, si],
                        _vec(-params.source_directions[si]),
                        _vec(q * 1e-10),
                        0.5 * float(torch.linalg.vector_norm(q)) * 1e-10,
                        bool(ev.passed[0, li, xi, si]),
                        float(ev.polar[0, li, xi, si]),
                    ]
                )
    return {
        "title": "scattering (per sub-pixel and source)",
        "columns": [
            "layer sub source",
            "incident",
            "scattering (1/Å)",
            "stol (1/Å)",
            "passed",
            "polar",
        ],
        "rows": rows,
    }


def _lattice_table(params: Any, static: Any) -> TraceTable:
    """The rotated real-space cell (Å) per phi step (deg) and mosaic domain."""
    lattice = lattice_vectors(params, static) * 1e10  # (Phi, M, 3, 3) Å
    phis = spindle_angles(params, static) * (180.0 / math.pi)
    rows = []
    for fi in range(lattice.shape[0]):
        for mi in range(lattice.shape[1]):
            rows.append([[fi, mi], float(phis[fi]), *(_vec(lattice[fi, mi, k]) for k in range(3))])
    return {
        "title": "rotated real-space cell (per phi step and mosaic domain)",
        "columns": ["phi domain", "phi (deg)", "a (Å)", "b (Å)", "c (Å)"],
        "rows": rows,
    }


def _evaluation_table(ev: Any, params: Any, static: Any) -> TraceTable:
    """Fractional and nearest Miller indices, lattice and cell factors and term per evaluation."""
    hkl = ev.hkl[:, 0]  # (3, L, X, S, F, M)
    shape = tuple(hkl.shape[1:])
    reciprocal = crystal_basis(params, static).reciprocal.to(params.dtype)
    f_latt = lattice_factor_signed(hkl, params, static, reciprocal)
    per_axis = None
    if static.shape == "square":
        per_axis = [
            torch.where(params.n_cells[k] > 1.0, sincg(hkl[k], params.n_cells[k]), 1.0)
            for k in range(3)
        ]
    f_cell = ev.f_cell[0].expand(shape)
    term = ev.term[0].expand(shape)
    active = ev.active[0].expand(shape)
    rows = []
    for index in _ndindex(shape):
        h = [float(hkl[(k, *index)]) for k in range(3)]
        axes = [float(a[index]) for a in per_axis] if per_axis is not None else [math.nan] * 3
        rows.append(
            [
                list(index),
                h,
                [math.ceil(x - 0.5) for x in h],
                axes,
                float(f_latt[index]),
                float(f_cell[index]),
                float(term[index]),
                bool(active[index]),
            ]
        )
    return {
        "title": "evaluations (per sub-pixel, source, phi step and mosaic domain)",
        "columns": [
            "layer sub source phi domain",
            "h k l",
            "hkl0",
            "F_latt a b c",
            "F_latt",
            "F_cell",
            "term",
            "active",
        ],
        "rows": rows,
    }


def _pixel_table(tr: Any, static: Any) -> TraceTable:
    """The pixel's sum of terms and the factors applied to it (photons at the end)."""
    return {
        "title": "pixel",
        "columns": ["quantity", "value"],
        "rows": [
            ["I (sum of terms)", float(tr.evaluation.intensity[0])],
            ["steps", int(static.steps)],
            ["polar applied", tr.polar],
            ["omega applied (sr)", tr.omega],
            ["capfrac applied", tr.capture],
            ["pixel (photons)", tr.pixel],
        ],
    }


def _ndindex(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    return [tuple(int(i) for i in idx) for idx in np.ndindex(*shape)]
