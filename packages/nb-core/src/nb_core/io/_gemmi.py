"""Structure factors from MTZ files, mmCIF reflection blocks and coordinate models (gemmi).

``-hkl`` picks its reader by the file's extension: ``.mtz`` an MTZ file, ``.cif``/``.mmcif`` an
mmCIF file (its ``_refln`` loop, or its ``_atom_site`` model when it has no reflections),
``.pdb``/``.ent`` a PDB model; any other name is HKL text (:mod:`nb_core.io._hkl`).

Every reader returns a P1 reflection list (:class:`~nb_core.io._hkl.HklTable`), the form of a
nanoBragg HKL text file: each reflection read, every image of it under the space group's
rotations, and the Friedel mate of each, listed once (a reflection read keeps its own value;
the images fill only the indices the file does not list). The list then goes onto the grid as
a text file's lines do, so the same amplitudes written as text give the same grid and image.

A model's amplitudes are computed by gemmi's X-ray density calculation: the atoms' electron
density (International Tables form factors, each atom's own occupancy and B-factor, a blur
added for sampling and divided out again) on a grid at twice the Nyquist rate for
``d_min``, Fourier transformed; every reflection with ``d >= d_min`` is kept, F000 and the
systematic absences (F near 0) included. Bulk solvent, anomalous scattering and hydrogens the
file lacks are not modelled. The amplitudes agree with a direct summation over the atoms to
a few 1e-6 of the largest (gemmi's grid is float32).

gemmi is an optional dependency (``pip install 'nanobragg-torch[gemmi]'``), imported only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nb_core.errors import InputError, extra_hint
from nb_core.io._atomic import PathLike, open_input, read_input_bytes
from nb_core.io._hkl import HklTable, check_grid_size

__all__ = [
    "DEFAULT_MODEL_DMIN",
    "GEMMI_EXTRA",
    "StructureFactorSource",
    "default_model_dmin",
    "expand_to_p1",
    "read_structure_factors",
    "structure_factor_format",
]

#: How to install gemmi with nb.
GEMMI_EXTRA = extra_hint("gemmi")
#: Resolution (Å) to which a model's amplitudes are computed when none is asked for, unless
#: the wavelength allows less (see :func:`default_model_dmin`).
DEFAULT_MODEL_DMIN = 2.0
#: Largest reflection or model file read (bytes).
_FILE_LIMIT = 1 << 30
#: Oversampling of gemmi's density grid: twice Nyquist (gemmi's default 1.5 leaves amplitudes
#: up to 7e-5 of the largest from a direct summation, 2 about 2e-6).
_GRID_RATE = 2.0
#: Density (relative to an atom's peak) below which an atom is not spread further (gemmi's
#: default 1e-5 alone leaves errors of 1e-4).
_DENSITY_CUTOFF = 1e-7
#: Most points of the density grid (float32, Fourier transformed in place of a copy).
_DENSITY_GRID_LIMIT = 2**27

Format = Literal["mtz", "cif", "pdb"]
_FORMAT_BY_SUFFIX: dict[str, Format] = {
    ".mtz": "mtz",
    ".cif": "cif",
    ".mmcif": "cif",
    ".pdb": "pdb",
    ".ent": "pdb",
}
#: MTZ column types: amplitudes (F; G for F(+)/F(-)) and intensities (J; K for I(+)/I(-)).
_MTZ_AMPLITUDE, _MTZ_INTENSITY = ("F", "G"), ("J", "K")
#: mmCIF ``_refln`` items taken when no column is named, in order of preference.
_CIF_DEFAULTS = (
    "F_meas_au",
    "F_meas",
    "F_calc_au",
    "F_calc",
    "intensity_meas",
    "intensity_calc",
    "F_squared_meas",
    "F_squared_calc",
)
_CIF_INTENSITY_PREFIXES = ("intensity", "F_squared", "pdbx_I")
_CIF_AMPLITUDE_PREFIXES = ("F_", "pdbx_F")


@dataclass(frozen=True)
class StructureFactorSource:
    """Where the amplitudes of a ``-hkl`` file read through gemmi came from.

    Attributes:
        kind: ``"mtz"``, ``"mmcif"`` (a reflection block) or ``"model"`` (F computed from
            atomic coordinates).
        column: The MTZ column label or ``_refln`` item read; ``""`` for a model.
        space_group: Hermann-Mauguin symbol whose rotations expanded the data to P1.
        reflections: Reflections read (or computed, for a model) before the expansion.
        d_min_A: For a model, the resolution (Å) to which F was computed; else None.
        notes: Console lines (intensities converted, a space group assumed).
    """

    kind: Literal["mtz", "mmcif", "model"]
    column: str
    space_group: str
    reflections: int
    d_min_A: float | None = None
    notes: tuple[str, ...] = ()


def structure_factor_format(path: PathLike) -> Format | None:
    """The gemmi format ``-hkl`` reads ``path`` as (by extension), or None for HKL text."""
    return _FORMAT_BY_SUFFIX.get(Path(path).suffix.lower())


def default_model_dmin(lambda_A: float) -> float:
    """The resolution (Å) of a model's amplitudes when ``-model_dmin`` is not given.

    :data:`DEFAULT_MODEL_DMIN`, or half the wavelength where that is coarser: no detector
    records a spacing finer than lambda/2.
    """
    return max(DEFAULT_MODEL_DMIN, 0.5 * float(lambda_A))


def _import_gemmi(path: PathLike, what: str) -> Any:
    """The gemmi module, or the one-line error naming the extra that installs it."""
    try:
        import gemmi
    except ImportError:
        raise InputError(
            f"reading {what} needs gemmi, which is not installed: {GEMMI_EXTRA}", source=path
        ) from None
    return gemmi


def _failed(path: PathLike, what: str, exc: Exception) -> InputError:
    """The error for a file gemmi cannot read."""
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    return InputError(f"not a readable {what} ({reason})", source=path)


def read_structure_factors(
    path: PathLike, *, column: str | None = None, model_dmin_A: float | None = None
) -> tuple[HklTable, StructureFactorSource]:
    """Read an MTZ file, an mmCIF reflection block or a model as a P1 reflection list.

    Args:
        path: The file (its extension picks the format: :func:`structure_factor_format`).
        column: MTZ column label or ``_refln`` item to read (``-sf_column``); None picks the
            first amplitude column (MTZ type F; ``F_meas_au``, ``F_meas``, ``F_calc`` ... in
            mmCIF), else the first intensity column (amplitudes as sqrt(max(I, 0))).
        model_dmin_A: Resolution (Å) of a model's amplitudes (``-model_dmin``); None for
            :data:`DEFAULT_MODEL_DMIN`.

    Returns:
        The P1 reflections (``indices`` ``(n, 3)`` int64, ``amplitudes`` ``(n,)`` float64,
        electrons) and where they came from.

    Raises:
        InputError: gemmi is missing; the file cannot be read, names no amplitudes or atoms;
            the column is unknown or not an amplitude or intensity; the grid would be too large.
    """
    fmt = structure_factor_format(path)
    if fmt == "mtz":
        return _read_mtz(path, column)
    if fmt is None:
        raise InputError(
            "not an MTZ, mmCIF or PDB file name (.mtz, .cif, .mmcif, .pdb, .ent)", path
        )
    gemmi = _import_gemmi(path, "an mmCIF file" if fmt == "cif" else "a PDB model")
    text = read_input_bytes(path, limit=_FILE_LIMIT, kind=f"{fmt} file", text=True).decode(
        "latin-1"
    )
    if fmt == "cif":
        try:
            doc = gemmi.cif.read_string(text)
        except (RuntimeError, ValueError) as exc:
            raise _failed(path, "mmCIF file", exc) from None
        tags = ("_refln.index_h", "_diffrn_refln.index_h")
        if any(len(block.find_values(tag)) for block in doc for tag in tags):
            # as_refln_blocks takes the blocks out of the document.
            blocks = [rb for rb in gemmi.as_refln_blocks(doc) if rb.default_loop is not None]
            if not blocks:
                raise InputError("its reflection loop has no hkl indices gemmi can read", path)
            return _read_refln_block(path, blocks, column)
        structure = _structure(path, lambda: gemmi.make_structure_from_block(doc[0]))
    else:
        structure = _structure(path, lambda: gemmi.read_pdb_string(text))
    if column is not None:
        raise InputError(f"{path} is a model (no reflections): it has no columns", "-sf_column")
    return _model_table(path, gemmi, structure, model_dmin_A)


def _structure(path: PathLike, read: Any) -> Any:
    """A gemmi Structure from ``read()``, refused when gemmi fails or it has no atoms."""
    try:
        structure = read()
    except (RuntimeError, ValueError, IndexError) as exc:
        raise _failed(path, "model", exc) from None
    if len(structure) == 0 or structure[0].count_atom_sites() == 0:
        raise InputError("no reflections (_refln) and no atoms (ATOM/HETATM, _atom_site)", path)
    return structure


# --------------------------------------------------------------------------------- MTZ


def _read_mtz(path: PathLike, column: str | None) -> tuple[HklTable, StructureFactorSource]:
    """The P1 list of one MTZ column."""
    gemmi = _import_gemmi(path, "an MTZ file")
    handle, size = open_input(path)
    handle.close()
    if size is None:
        raise InputError("an MTZ file must be a regular file (not a pipe or device)", path)
    if size > _FILE_LIMIT:
        raise InputError(f"MTZ file of {size} bytes is larger than {_FILE_LIMIT}", path)
    try:
        mtz = gemmi.read_mtz_file(str(path))
    except (RuntimeError, ValueError, OSError) as exc:
        raise _failed(path, "MTZ file", exc) from None
    kinds = {c.label: c.type for c in mtz.columns}
    label = _mtz_column(path, kinds, column)
    values = np.asarray(mtz.column_with_label(label).array, dtype=np.float64)
    indices = np.asarray(mtz.make_miller_array(), dtype=np.int64).reshape(-1, 3)
    notes: list[str] = []
    if kinds[label] in _MTZ_INTENSITY:
        notes.append(f"amplitudes from intensities: F = sqrt(max({label}, 0))")
    intensity = kinds[label] in _MTZ_INTENSITY
    source = _Read("mtz", label, intensity, _rotations(gemmi, mtz.spacegroup), notes)
    return _expanded(path, source, indices, values)


def _mtz_column(path: PathLike, kinds: dict[str, str], column: str | None) -> str:
    """The label of the MTZ column to read (named, else the first F, else the first J)."""
    if column is not None:
        if column not in kinds:
            raise InputError(
                f"no column {column!r} in {path}; its columns: {_listing(kinds)}", "-sf_column"
            )
        if kinds[column] not in (*_MTZ_AMPLITUDE, *_MTZ_INTENSITY):
            raise InputError(
                f"column {column!r} of {path} has MTZ type {kinds[column]}; expected an "
                f"amplitude (type F or G) or intensity (J or K) column: {_listing(kinds)}",
                "-sf_column",
            )
        return column
    for wanted in ("F", "J"):
        found = [label for label, kind in kinds.items() if kind == wanted]
        if found:
            return found[0]
    raise InputError(f"no amplitude (type F) or intensity (type J) column: {_listing(kinds)}", path)


def _listing(kinds: dict[str, str]) -> str:
    """``FP (F), SIGFP (Q), ...``: column labels with their types."""
    return ", ".join(f"{label} ({kind})" for label, kind in kinds.items()) or "none"


# ------------------------------------------------------------------------------- mmCIF


def _read_refln_block(
    path: PathLike, blocks: list[Any], column: str | None
) -> tuple[HklTable, StructureFactorSource]:
    """The P1 list of one ``_refln`` item of the first reflection block."""
    block = blocks[0]
    if block.is_unmerged():
        raise InputError("holds unmerged reflections (_diffrn_refln); merge them first", path)
    labels = list(block.column_labels())
    item = _cif_column(path, labels, column)
    values = np.asarray(block.make_float_array(item), dtype=np.float64)
    indices = np.asarray(block.make_miller_array(), dtype=np.int64).reshape(-1, 3)
    intensity = item.startswith(_CIF_INTENSITY_PREFIXES)
    notes: list[str] = []
    if len(blocks) > 1:
        notes.append(f"reading reflection block {block.block.name}, the first of {len(blocks)}")
    if intensity:
        notes.append(f"amplitudes from intensities: F = sqrt(max({item}, 0))")
    rotations = _rotations(_import_gemmi(path, "an mmCIF file"), block.spacegroup)
    return _expanded(path, _Read("mmcif", item, intensity, rotations, notes), indices, values)


def _cif_column(path: PathLike, labels: list[str], column: str | None) -> str:
    """The ``_refln`` item to read: the one named (with or without ``_refln.``), else the
    first of :data:`_CIF_DEFAULTS` present."""
    usable = [
        x for x in labels if x.startswith((*_CIF_AMPLITUDE_PREFIXES, *_CIF_INTENSITY_PREFIXES))
    ]
    if column is not None:
        item = column.split(".", 1)[1] if column.startswith("_refln.") else column
        if item not in labels:
            raise InputError(
                f"no item _refln.{item} in {path}; its items: {', '.join(labels)}", "-sf_column"
            )
        if item not in usable or item.endswith("sigma") or "_sigma" in item:
            raise InputError(
                f"_refln.{item} of {path} is not an amplitude or intensity; choose one of "
                f"{', '.join(x for x in usable if 'sigma' not in x) or 'none'}",
                "-sf_column",
            )
        return item
    for item in _CIF_DEFAULTS:
        if item in labels:
            return item
    raise InputError(
        f"no amplitude or intensity item ({', '.join(_CIF_DEFAULTS)}); its items: "
        f"{', '.join(labels)}",
        path,
    )


# ------------------------------------------------------------------------------- model


def _model_table(
    path: PathLike, gemmi: Any, structure: Any, d_min: float | None
) -> tuple[HklTable, StructureFactorSource]:
    """The P1 list of a model's amplitudes to ``d_min`` (Å)."""
    d = DEFAULT_MODEL_DMIN if d_min is None else float(d_min)
    if not (np.isfinite(d) and d > 0.0):
        raise InputError(f"expected a resolution > 0 Å, got {d:g}", "-model_dmin")
    cell = structure.cell
    if min(cell.a, cell.b, cell.c) <= 1.0 or cell.volume <= 0.0:
        raise InputError("the model has no unit cell (CRYST1 or _cell)", path)
    points = np.prod([np.ceil(2.0 * _GRID_RATE * x / d) for x in (cell.a, cell.b, cell.c)])
    if points > _DENSITY_GRID_LIMIT:
        raise InputError(
            f"a {cell.a:g} x {cell.b:g} x {cell.c:g} Å cell at {d:g} Å needs a density grid of "
            f"{points:.3g} points, more than {_DENSITY_GRID_LIMIT}; choose a coarser -model_dmin",
            "-model_dmin",
        )
    model = structure[0]
    calc = gemmi.DensityCalculatorX()
    calc.d_min = d
    calc.rate = _GRID_RATE
    calc.cutoff = _DENSITY_CUTOFF
    calc.set_refmac_compatible_blur(model)
    calc.set_grid_cell_and_spacegroup(structure)
    calc.put_model_density_on_grid(model)
    transform = gemmi.transform_map_to_f_phi(calc.grid, half_l=True)
    asu = transform.prepare_asu_data(dmin=d, unblur=calc.blur, with_000=True, with_sys_abs=True)
    indices = np.asarray(asu.miller_array, dtype=np.int64).reshape(-1, 3)
    values = np.abs(np.asarray(asu.value_array)).astype(np.float64)
    rotations = _rotations(gemmi, structure.find_spacegroup())
    return _expanded(path, _Read("model", "", False, rotations, [], d), indices, values)


# ------------------------------------------------------------------------- expansion


@dataclass(frozen=True)
class _Read:
    """What a reader found, before the expansion: the values' kind and the symmetry."""

    kind: Literal["mtz", "mmcif", "model"]
    column: str
    intensity: bool
    symmetry: tuple[str, np.ndarray, tuple[str, ...]]
    notes: list[str]
    d_min_A: float | None = None


def _rotations(gemmi: Any, space_group: Any) -> tuple[str, np.ndarray, tuple[str, ...]]:
    """The space group's name, ``(k, 3, 3)`` integer rotations, and a note when it is P 1
    for want of a space group."""
    if space_group is None:
        note = "no space group given: the reflections are taken as P 1"
        return "P 1", np.eye(3, dtype=np.int64)[None], (note,)
    ops = space_group.operations().sym_ops
    rotations = np.array([op.rot for op in ops], dtype=np.int64) // gemmi.Op.DEN
    return str(space_group.hm), rotations, ()


def _expanded(
    path: PathLike, read: _Read, indices: np.ndarray, values: np.ndarray
) -> tuple[HklTable, StructureFactorSource]:
    """Drop missing values, convert intensities, expand to P1 by the space group's rotations."""
    keep = np.isfinite(values)
    indices, values = indices[keep], values[keep]
    if values.shape[0] == 0:
        raise InputError(f"no reflections with a value in {read.column or 'the model'}", path)
    if read.intensity:
        values = np.sqrt(np.maximum(values, 0.0))
    name, rotations, symmetry_notes = read.symmetry
    table = expand_to_p1(HklTable(indices=indices, amplitudes=values), rotations, source=path)
    source = StructureFactorSource(
        kind=read.kind,
        column=read.column,
        space_group=name,
        reflections=int(values.shape[0]),
        d_min_A=read.d_min_A,
        notes=(*read.notes, *symmetry_notes),
    )
    return table, source


def expand_to_p1(table: HklTable, rotations: np.ndarray, *, source: PathLike = "-hkl") -> HklTable:
    """Every symmetry image and Friedel mate of a reflection list, each index listed once.

    The image of ``h`` under the rotation ``R`` is the row vector ``h R`` (the convention of
    gemmi's ``Op.apply_to_hkl`` and of the International Tables for reciprocal space). A
    reflection of ``table`` keeps its own amplitude (the last line of a repeated index, as in
    an HKL file); the images fill the other indices, in the order of ``rotations``, then the
    Friedel mates ``-h R``. Amplitudes carry over unchanged (no anomalous differences).

    Args:
        table: Reflections (``indices`` ``(n, 3)`` int64; ``amplitudes`` ``(n,)``, electrons).
        rotations: ``(k, 3, 3)`` integer rotation matrices of the space group's operators.
        source: The file or flag the list comes from, for the error message.

    Returns:
        The P1 list, ordered by ``h``, then ``k``, then ``l``.

    Raises:
        InputError: The expanded index ranges make a grid too large to hold.
    """
    idx = np.asarray(table.indices, dtype=np.int64).reshape(-1, 3)
    amps = np.asarray(table.amplitudes, dtype=np.float64).reshape(-1)
    identity = np.eye(3, dtype=np.int64)[None]
    rots = np.concatenate([identity, np.asarray(rotations, dtype=np.int64).reshape(-1, 3, 3)])
    signs_rots = [(sign, r) for sign in (1, -1) for r in rots]
    lo = np.min([(sign * idx @ r).min(axis=0) for sign, r in signs_rots], axis=0)
    hi = np.max([(sign * idx @ r).max(axis=0) for sign, r in signs_rots], axis=0)
    bounds = (int(lo[0]), int(hi[0]), int(lo[1]), int(hi[1]), int(lo[2]), int(hi[2]))
    check_grid_size(bounds, source)
    shape = tuple(int(n) for n in hi - lo + 1)
    filled = np.zeros(int(np.prod(shape)), dtype=bool)
    values = np.zeros(filled.shape[0], dtype=np.float64)
    # A repeated index keeps its last line: the first occurrence in the reversed list.
    flat_in = _flat_index(idx - lo, shape)
    _, first = np.unique(flat_in[::-1], return_index=True)
    last = idx.shape[0] - 1 - first
    idx, amps = idx[last], amps[last]
    for sign, r in signs_rots:
        flat = _flat_index(sign * idx @ r - lo, shape)
        new = ~filled[flat]
        values[flat[new]] = amps[new]
        filled[flat[new]] = True
    where = np.flatnonzero(filled)
    p1 = np.stack(np.unravel_index(where, shape), axis=1).astype(np.int64) + lo
    return HklTable(indices=p1, amplitudes=values[where])


def _flat_index(offsets: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``(n,)`` int64 positions in a C-ordered grid of ``shape`` of ``(n, 3)`` offsets."""
    return np.asarray(np.ravel_multi_index(tuple(offsets.T), shape), dtype=np.int64)
