"""``-hkl`` from MTZ, mmCIF and coordinate models (through gemmi) against the same F as HKL text.

Each file is made here. The amplitudes of the reflection files are F of a small model computed
by gemmi's direct summation over the atoms, which obey the space group's symmetry exactly, so
that nb's expansion to P1 can be checked against the direct summation at every P1 index (no
symmetry code of nb's is used to make the reference lists).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nb_cli import main
from nb_cli.flags import parse_args
from nb_core.io import read_float_image, read_structure_factors
from nb_core.render import render
from nb_core.resolve import load_inputs, resolve

gemmi = pytest.importorskip("gemmi")

C_BIN = os.environ.get("NB_C_BIN")
needs_c = pytest.mark.skipif(not C_BIN, reason="NB_C_BIN is not set (the reference C binary)")

#: Five atoms in the asymmetric unit (fractional x, y, z; element; B in Å^2; occupancy).
ATOMS = (
    (0.11, 0.23, 0.07, "N", 15.0, 1.0),
    (0.16, 0.19, 0.12, "C", 18.0, 1.0),
    (0.21, 0.27, 0.15, "C", 20.0, 1.0),
    (0.19, 0.33, 0.21, "O", 25.0, 0.8),
    (0.31, 0.12, 0.26, "S", 30.0, 1.0),
)
D_MIN = 3.97  # Å: no reflection of these cells lies at exactly this spacing
#: A small detector that reaches about 4.5 Å at its corners.
DETECTOR = ["-lambda", "1", "-N", "3", "-detpixels", "48", "-pixel", "0.4", "-distance", "60"]
DETECTOR += ["-misset", "10", "20", "30", "-default_F", "0", "-oversample", "1"]


def _pdb_text(cell: tuple[float, ...], space_group: str) -> str:
    """A PDB file with :data:`ATOMS` in ``cell`` (Å, deg) and ``space_group``."""
    uc = gemmi.UnitCell(*cell)
    lines = ["CRYST1%9.3f%9.3f%9.3f%7.2f%7.2f%7.2f %-11s" % (*cell, space_group)]
    for n, (x, y, z, element, b, occ) in enumerate(ATOMS, start=1):
        pos = uc.orthogonalize(gemmi.Fractional(x, y, z))
        name = f" {element:<3}"
        lines.append(
            f"ATOM  {n:5d} {name} ALA A{n:4d}    {pos.x:8.3f}{pos.y:8.3f}{pos.z:8.3f}"
            f"{occ:6.2f}{b:6.2f}          {element:>2}"
        )
    return "\n".join([*lines, "END", ""])


def _sphere(cell: tuple[float, ...], d_min: float) -> np.ndarray:
    """``(n, 3)`` every index with spacing >= ``d_min`` (F000 included)."""
    uc = gemmi.UnitCell(*cell)
    edge = [int(np.ceil(x / d_min)) + 1 for x in cell[:3]]
    grid = np.meshgrid(*[np.arange(-m, m + 1) for m in edge], indexing="ij")
    hkl = np.stack([g.ravel() for g in grid], axis=1)
    inv_d2 = np.asarray(uc.calculate_1_d2_array(hkl.astype(np.int32)))
    return hkl[inv_d2 <= 1.0 / d_min**2]


def _direct_f(pdb: str, hkl: np.ndarray) -> np.ndarray:
    """|F| of the model at each index, by gemmi's direct summation over the atoms."""
    structure = gemmi.read_pdb_string(pdb)
    calc = gemmi.StructureFactorCalculatorX(structure.cell)
    return np.array(
        [abs(calc.calculate_sf_from_model(structure[0], [int(v) for v in h])) for h in hkl]
    )


def _write_hkl(path: Path, hkl: np.ndarray, f: np.ndarray) -> Path:
    """An HKL text file, amplitudes written exactly (repr of the float64)."""
    lines = (f"{h} {k} {l} {float(v)!r}\n" for (h, k, l), v in zip(hkl.tolist(), f, strict=True))
    path.write_text("".join(lines))
    return path


def _image(argv: list[str]) -> np.ndarray:
    """The float64 image nb renders for ``argv`` (files by absolute path)."""
    parsed = parse_args(argv)
    exp = resolve(parsed.settings, load_inputs(parsed.settings), quirks=parsed.quirks)
    with torch.no_grad():
        return render(exp.params, exp.static).numpy()


def _rel_l2(test: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(test - ref) / np.linalg.norm(ref))


def _asu(hkl: np.ndarray, space_group: str) -> np.ndarray:
    """The indices of ``hkl`` in gemmi's reciprocal asymmetric unit."""
    asu = gemmi.ReciprocalAsu(gemmi.SpaceGroup(space_group))
    return np.array([asu.is_in([int(v) for v in h]) for h in hkl])


HEXAGONAL = (40.0, 40.0, 60.0, 90.0, 90.0, 120.0)
ORTHORHOMBIC = (30.0, 35.0, 40.0, 90.0, 90.0, 90.0)


def _reference(tmp_path: Path, cell: tuple[float, ...], space_group: str):
    """The model, its P1 sphere, the direct |F| there and that list written as HKL text."""
    pdb = _pdb_text(cell, space_group)
    hkl = _sphere(cell, D_MIN)
    f = _direct_f(pdb, hkl)
    return pdb, hkl, f, _write_hkl(tmp_path / "p1.hkl", hkl, f)


def _cell_flags(cell: tuple[float, ...]) -> list[str]:
    return ["-cell", *(f"{v:g}" for v in cell)]


def test_mtz_asymmetric_unit_gives_the_image_of_its_p1_list(tmp_path: Path) -> None:
    _, hkl, f, text = _reference(tmp_path, HEXAGONAL, "P 31 2 1")
    inside = _asu(hkl, "P 31 2 1")
    mtz = gemmi.Mtz(with_base=True)
    mtz.spacegroup = gemmi.find_spacegroup_by_name("P 31 2 1")
    mtz.set_cell_for_all(gemmi.UnitCell(*HEXAGONAL))
    mtz.add_dataset("sim")
    for label, kind in (("FREE", "I"), ("FP", "F"), ("SIGFP", "Q"), ("PHIC", "P")):
        mtz.add_column(label, kind)
    n = int(inside.sum())
    columns = [hkl[inside], np.zeros(n), f[inside], np.ones(n), np.zeros(n)]
    mtz.set_data(np.column_stack(columns).astype(np.float32))
    mtz.write_to_file(str(tmp_path / "data.mtz"))

    table, source = read_structure_factors(tmp_path / "data.mtz")
    assert (source.kind, source.column, source.space_group) == ("mtz", "FP", "P 31 2 1")
    assert source.reflections == n < len(hkl) / 5
    order = np.lexsort(hkl.T[::-1])
    np.testing.assert_array_equal(table.indices, hkl[order])  # the full sphere, sorted
    np.testing.assert_allclose(table.amplitudes, f[order], rtol=1e-6, atol=1e-6 * f.max())

    flags = [*_cell_flags(HEXAGONAL), *DETECTOR]
    ours = _image([*flags, "-hkl", str(tmp_path / "data.mtz")])
    ref = _image([*flags, "-hkl", str(text)])
    assert ref.max() > 0
    assert _rel_l2(ours, ref) < 1e-6  # the MTZ holds float32 amplitudes


def test_mmcif_reflection_block_gives_the_image_of_its_p1_list(tmp_path: Path) -> None:
    _, hkl, f, text = _reference(tmp_path, HEXAGONAL, "P 61")
    inside = _asu(hkl, "P 61")
    rows = [
        f"{h} {k} {l} {float(v)!r} 1.0" for (h, k, l), v in zip(hkl[inside], f[inside], strict=True)
    ]
    rows.append("9 9 9 ? 1.0")  # a missing value is skipped
    cell_lines = [
        f"_cell.{name} {value:g}"
        for name, value in zip(
            ("length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma"),
            HEXAGONAL,
            strict=True,
        )
    ]
    loop = ["loop_", *(f"_refln.{x}" for x in ("index_h", "index_k", "index_l"))]
    loop += ["_refln.F_meas_au", "_refln.F_meas_sigma_au"]
    cif = tmp_path / "data-sf.cif"
    cif.write_text(
        "\n".join(["data_rsim", *cell_lines, "_symmetry.space_group_name_H-M 'P 61'", *loop, *rows])
        + "\n"
    )
    table, source = read_structure_factors(cif)
    assert (source.kind, source.column, source.space_group) == ("mmcif", "F_meas_au", "P 61")
    assert len(table) == len(hkl)

    flags = [*_cell_flags(HEXAGONAL), *DETECTOR]
    ours = _image([*flags, "-hkl", str(cif)])
    ref = _image([*flags, "-hkl", str(text)])
    assert _rel_l2(ours, ref) < 1e-9
    named = _image([*flags, "-hkl", str(cif), "-sf_column", "_refln.F_meas_au"])
    assert _rel_l2(named, ours) < 1e-12


def test_pdb_model_gives_the_image_of_its_directly_summed_amplitudes(tmp_path: Path) -> None:
    pdb, hkl, f, text = _reference(tmp_path, ORTHORHOMBIC, "P 21 21 21")
    model = tmp_path / "model.pdb"
    model.write_text(pdb)
    table, source = read_structure_factors(model, model_dmin_A=D_MIN)
    assert (source.kind, source.space_group, source.d_min_A) == ("model", "P 21 21 21", D_MIN)
    order = np.lexsort(hkl.T[::-1])
    np.testing.assert_array_equal(table.indices, hkl[order])  # absences and F000 included
    # gemmi's FFT (float32 grid) against its direct summation: 2.3e-6 of the largest here.
    assert np.abs(table.amplitudes - f[order]).max() < 1e-5 * f.max()

    flags = [*_cell_flags(ORTHORHOMBIC), *DETECTOR, "-model_dmin", str(D_MIN)]
    ours = _image([*flags, "-hkl", str(model)])
    ref = _image([*flags[:-2], "-hkl", str(text)])
    assert _rel_l2(ours, ref) < 2e-5  # 1.7e-6 measured
    # The same amplitudes written as text give the same image.
    same = _write_hkl(tmp_path / "same.hkl", table.indices, table.amplitudes)
    assert _rel_l2(_image([*flags[:-2], "-hkl", str(same)]), ours) < 1e-12


def test_model_as_mmcif_matches_the_pdb_model(tmp_path: Path) -> None:
    pdb = _pdb_text(ORTHORHOMBIC, "P 21 21 21")
    structure = gemmi.read_pdb_string(pdb)
    structure.setup_entities()
    cif = tmp_path / "model.cif"
    cif.write_text(structure.make_mmcif_document().as_string())
    (tmp_path / "model.pdb").write_text(pdb)
    from_cif, source = read_structure_factors(cif, model_dmin_A=D_MIN)
    from_pdb, _ = read_structure_factors(tmp_path / "model.pdb", model_dmin_A=D_MIN)
    assert source.kind == "model"
    np.testing.assert_array_equal(from_cif.indices, from_pdb.indices)
    np.testing.assert_allclose(from_cif.amplitudes, from_pdb.amplitudes, rtol=1e-6, atol=1e-6)


def _simulate(tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]):
    code = main(["simulate", *args, "-nonoise", "-nopgm", "-outdir", str(tmp_path / "out")])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_simulate_reads_an_mtz_writes_the_dump_and_says_what_it_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _mtz_file(tmp_path / "small.mtz")
    code, out, _ = _simulate(
        tmp_path, ["-hkl", "small.mtz", *_cell_flags(HEXAGONAL), *DETECTOR], capsys
    )
    assert code == 0
    assert "reading F from small.mtz (MTZ column FP, P 61): 3 reflections, 30 in P1" in out
    assert (tmp_path / "out" / "Fdump.bin").is_file()


def _mtz_file(path: Path) -> None:
    """Three reflections in P 61 (30 in P1 with the Friedel mates)."""
    mtz = gemmi.Mtz(with_base=True)
    mtz.spacegroup = gemmi.find_spacegroup_by_name("P 61")
    mtz.set_cell_for_all(gemmi.UnitCell(*HEXAGONAL))
    mtz.add_dataset("sim")
    mtz.add_column("FP", "F")
    mtz.add_column("IMEAN", "J")
    mtz.add_column("PHI", "P")
    data = [[1, 0, 0, 10, 100, 0], [2, 1, 3, 20, 400, 0], [1, -1, 2, 30, -5, 0]]
    mtz.set_data(np.array(data, dtype=np.float32))
    mtz.write_to_file(str(path))


def test_intensity_column_is_read_as_the_square_root(tmp_path: Path) -> None:
    _mtz_file(tmp_path / "small.mtz")
    table, source = read_structure_factors(tmp_path / "small.mtz", column="IMEAN")
    assert "sqrt" in source.notes[0]
    values = dict(zip(map(tuple, table.indices.tolist()), table.amplitudes.tolist(), strict=True))
    assert values[(1, 0, 0)] == 10.0
    assert values[(0, 1, 0)] == 10.0  # a symmetry mate
    assert values[(-2, -1, -3)] == 20.0  # a Friedel mate
    assert values[(1, -1, 2)] == 0.0  # a negative intensity


@pytest.mark.parametrize(
    ("extra", "name", "expected"),
    [
        (
            ["-sf_column", "PHI"],
            "small.mtz",
            "-sf_column: column 'PHI' of small.mtz has MTZ type P",
        ),
        (["-sf_column", "FC"], "small.mtz", "-sf_column: no column 'FC' in small.mtz"),
        (["-sf_column", "FP"], "p1.hkl", "-sf_column: applies only to an MTZ or mmCIF -hkl file"),
        (["-model_dmin", "3"], "small.mtz", "-model_dmin: applies only to a model -hkl file"),
        (["-model_dmin", "0"], "model.pdb", "-model_dmin: expected a resolution > 0 Å"),
        ([], "junk.mtz", "junk.mtz: not a readable MTZ file"),
        ([], "empty.cif", "empty.cif: no reflections (_refln) and no atoms"),
    ],
)
def test_bad_structure_factor_input_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    name: str,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    _mtz_file(tmp_path / "small.mtz")
    (tmp_path / "p1.hkl").write_text("1 0 0 10\n")
    (tmp_path / "junk.mtz").write_bytes(b"MTZ \x00\x01 not really")
    (tmp_path / "empty.cif").write_text("data_x\n_cell.length_a 10\n")
    (tmp_path / "model.pdb").write_text(_pdb_text(ORTHORHOMBIC, "P 21 21 21"))
    code, _, err = _simulate(
        tmp_path, ["-hkl", name, *_cell_flags(HEXAGONAL), *DETECTOR, *extra], capsys
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"nb: error: {expected}"), err
    assert not (tmp_path / "out").exists()


def test_missing_gemmi_is_one_line_naming_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _mtz_file(tmp_path / "small.mtz")
    monkeypatch.setitem(sys.modules, "gemmi", None)  # import gemmi now raises ImportError
    code, _, err = _simulate(
        tmp_path, ["-hkl", "small.mtz", *_cell_flags(HEXAGONAL), *DETECTOR], capsys
    )
    assert code == 2
    assert err.strip() == (
        "nb: error: small.mtz: reading an MTZ file needs gemmi, which is not installed: "
        "pip install 'nanobragg-torch[gemmi]'"
    )


@needs_c
def test_the_c_program_reading_nb_dump_of_an_mtz_gives_the_same_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert C_BIN is not None
    monkeypatch.chdir(tmp_path)
    _mtz_file(tmp_path / "small.mtz")
    flags = [*_cell_flags(HEXAGONAL), *DETECTOR]
    code, _, _ = _simulate(tmp_path, ["-hkl", "small.mtz", *flags, "-dtype", "float64"], capsys)
    assert code == 0
    out = tmp_path / "out"
    c_args = [*flags, "-floatfile", "c.bin", "-intfile", "c.img", "-nonoise", "-nopgm"]
    proc = subprocess.run(
        [C_BIN, *c_args], cwd=out, capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stdout[-500:]
    assert "reading Fs from Fdump.bin" in proc.stdout
    c_image = read_float_image(out / "c.bin", 48, 48).astype(np.float64)
    nb_image = read_float_image(out / "floatimage.bin", 48, 48).astype(np.float64)
    assert c_image.max() > 0
    assert _rel_l2(nb_image, c_image) < 1e-6


@needs_c
def test_the_c_runner_gives_the_c_program_an_mtz_column_as_hkl_text(tmp_path: Path) -> None:
    assert C_BIN is not None
    from nb_parity.runs import CONVERTED_HKL, run_c

    _mtz_file(tmp_path / "small.mtz")
    flags = [*_cell_flags(HEXAGONAL), *DETECTOR, "-hkl", "small.mtz", "-sf_column", "IMEAN"]
    c_run = run_c(C_BIN, flags, inputs={"small.mtz": tmp_path / "small.mtz"}, timeout=120)
    assert c_run.ok, c_run.stdout[-500:]
    assert c_run.argv[c_run.argv.index("-hkl") + 1] == CONVERTED_HKL
    assert c_run.float_image is not None
    c_image = c_run.float_image.astype(np.float64)
    intensities = _image([*flags[:-4], "-hkl", str(tmp_path / "small.mtz"), *flags[-2:]])
    amplitudes = _image([*flags[:-4], "-hkl", str(tmp_path / "small.mtz")])
    assert c_image.max() > 0
    assert _rel_l2(intensities, c_image) < 1e-6  # the C program rendered sqrt(IMEAN)
    assert _rel_l2(amplitudes, c_image) > 0.1  # and not FP
