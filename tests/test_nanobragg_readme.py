"""The example commands of nanoBragg's own README, verbatim, through ``nb simulate``.

nanoBragg's README shows four runs: a 10 x 10 x 10-cell crystal of a big hexagonal cell at
6.2 Å from an orientation matrix (spelled ``-matrix``), the same with a lower fluence and a
water jet, and a single molecule in a 250 Å box (SAXS, spelled with ``-hdiv 0 -vdiv 0``, which
the C program ignores), without and then with an F000 line. Their inputs are made here: a
random orientation matrix of each cell and random amplitudes to the resolution the detector
reaches. Each command runs at full size, as written; only ``-dtype float64`` is added for nb
(an nb option: the C program's reading of the flags is unchanged).
"""

from __future__ import annotations

import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nb_cli import main
from nb_cli.flags import parse_args
from nb_core.io import read_float_image, read_smv
from nb_core.resolve import load_inputs, resolve
from nb_parity.metrics import image_metrics

C_BIN = os.environ.get("NB_C_BIN")
needs_c = pytest.mark.skipif(not C_BIN, reason="NB_C_BIN is not set (the reference C binary)")

CRYSTAL_CELL = (281.0, 281.0, 165.2, 90.0, 90.0, 120.0)
BOX_CELL = (250.0, 250.0, 250.0, 90.0, 90.0, 90.0)

#: name -> (the command after the program name, its inputs, detector pixels per edge)
EXAMPLES: dict[str, tuple[str, str, int]] = {
    "crystal": ("-hkl P1.hkl -matrix A.mat -lambda 6.2 -N 10", "crystal", 1024),
    "crystal_in_water": (
        "-hkl P1.hkl -matrix A.mat -lambda 6.2 -N 10 -fluence 2e22 -water 4",
        "crystal",
        1024,
    ),
    "saxs": (
        "-mat bigcell.mat -hkl P1.hkl -lambda 1 -dispersion 0 -distance 1000 -detsize 100 "
        "-pixel 0.1 -hdiv 0 -vdiv 0 -fluence 1e32 -N 1",
        "box",
        1000,
    ),
    "saxs_with_F000": (
        "-mat bigcell.mat -hkl P1.hkl -lambda 1 -dispersion 0 -distance 1000 -detsize 100 "
        "-pixel 0.1 -hdiv 0 -vdiv 0 -fluence 1e32 -N 1",
        "box_F000",
        1000,
    ),
}


def _real_basis(cell: tuple[float, ...]) -> np.ndarray:
    """``(3, 3)`` rows a, b, c (Å) of ``cell``, a along x and b in the x-y plane."""
    a, b, c = cell[:3]
    alpha, beta, gamma = (math.radians(x) for x in cell[3:])
    cx = c * math.cos(beta)
    cy = c * (math.cos(alpha) - math.cos(beta) * math.cos(gamma)) / math.sin(gamma)
    return np.array(
        [
            [a, 0.0, 0.0],
            [b * math.cos(gamma), b * math.sin(gamma), 0.0],
            [cx, cy, math.sqrt(c * c - cx * cx - cy * cy)],
        ]
    )


def _random_rotation(seed: int) -> np.ndarray:
    """A rotation matrix from a random unit quaternion."""
    w, x, y, z = (q := np.random.default_rng(seed).normal(size=4)) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _write_matrix(path: Path, cell: tuple[float, ...], wavelength: float, seed: int) -> None:
    """A MOSFLM matrix: rows x, y, z; columns a*, b*, c* (Å⁻¹) times the wavelength."""
    reciprocal = np.linalg.inv(_real_basis(cell))  # columns a*, b*, c*
    matrix = _random_rotation(seed) @ reciprocal * wavelength
    path.write_text("".join(" ".join(f"{v:14.10f}" for v in row) + "\n" for row in matrix))


def _write_hkl(path: Path, cell: tuple[float, ...], d_min: float, seed: int, f000: bool) -> None:
    """Random amplitudes (10 to 1000 electrons) of every index to ``d_min`` (Å)."""
    reciprocal = np.linalg.inv(_real_basis(cell))
    edge = [math.ceil(x / d_min) + 1 for x in cell[:3]]
    grid = np.meshgrid(*[np.arange(-m, m + 1) for m in edge], indexing="ij")
    hkl = np.stack([g.ravel() for g in grid], axis=1)
    inside = np.linalg.norm(hkl @ reciprocal.T, axis=1) <= 1.0 / d_min
    hkl = hkl[inside & (hkl != 0).any(axis=1)]
    amplitudes = np.random.default_rng(seed).uniform(10.0, 1000.0, len(hkl))
    lines = [
        f"{h} {k} {l} {f:.3f}\n" for (h, k, l), f in zip(hkl.tolist(), amplitudes, strict=True)
    ]
    if f000:
        lines.append("0 0 0 520\n")  # as the README appends it
    path.write_text("".join(lines))


def _inputs(folder: Path, kind: str) -> None:
    """The files an example reads: the crystal reaches 10 Å at the detector corners at
    6.2 Å, the box 14 Å at 1 Å."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "crystal":
        _write_matrix(folder / "A.mat", CRYSTAL_CELL, 6.2, seed=1)
        _write_hkl(folder / "P1.hkl", CRYSTAL_CELL, 9.5, seed=2, f000=False)
    else:
        _write_matrix(folder / "bigcell.mat", BOX_CELL, 1.0, seed=3)
        _write_hkl(folder / "P1.hkl", BOX_CELL, 10.0, seed=4, f000=kind == "box_F000")


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_parses_and_resolves(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command, kind, pixels = EXAMPLES[name]
    _inputs(tmp_path, kind)
    monkeypatch.chdir(tmp_path)
    parsed = parse_args(command.split())
    experiment = resolve(parsed.settings, load_inputs(parsed.settings), quirks=parsed.quirks)
    static = experiment.static
    assert (static.fpixels, static.spixels) == (pixels, pixels)
    assert static.has_hkl
    notes = [note.split()[1] for note in parsed.notes]
    assert notes == (["-hdiv", "-vdiv"] if "-hdiv" in command else [])
    assert parsed.settings.matrix_file in ("A.mat", "bigcell.mat")


def _run_c(folder: Path, argv: list[str]) -> None:
    assert C_BIN is not None
    proc = subprocess.run(
        [C_BIN, *argv],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
    )
    assert proc.returncode == 0, proc.stdout[-500:]


@needs_c
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_gives_the_c_program_image(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    command, kind, pixels = EXAMPLES[name]
    c_folder, nb_folder = tmp_path / "c", tmp_path / "nb"
    _inputs(c_folder, kind)
    _inputs(nb_folder, kind)
    _run_c(c_folder, command.split())
    monkeypatch.chdir(nb_folder)
    assert main(["simulate", *command.split(), "-dtype", "float64"]) == 0
    capsys.readouterr()
    for folder in (c_folder, nb_folder):  # the default outputs of both programs
        for output in (
            "floatimage.bin",
            "intimage.img",
            "noiseimage.img",
            "image.pgm",
            "Fdump.bin",
        ):
            assert (folder / output).is_file(), (folder.name, output)
    c_image = read_float_image(c_folder / "floatimage.bin", pixels, pixels).astype(np.float64)
    nb_image = read_float_image(nb_folder / "floatimage.bin", pixels, pixels).astype(np.float64)
    assert c_image.max() > 0
    assert image_metrics(nb_image, c_image).rel_l2 <= 1e-6
    c_int = read_smv(c_folder / "intimage.img").data.astype(np.int64)
    nb_int = read_smv(nb_folder / "intimage.img").data.astype(np.int64)
    assert np.abs(c_int - nb_int).max() <= 1
