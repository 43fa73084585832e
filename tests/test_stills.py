"""``nb stills``: shots at orientations uniform on SO(3), with a manifest of true parameters.

A shot equals ``nb simulate`` of the flags its manifest row gives; its ``-mat`` file gives the
same crystal; the orientations pass tests of uniformity on SO(3); the per-shot variations stay
in their ranges; shots depend only on their number.
"""

from __future__ import annotations

import csv
import math
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch

from nb_core.datasets import ShotVariation, shot_parameters, shot_rotation
from nb_core.geometry.rotations import rotation_matrix_xyz
from nb_core.io import read_float_image, read_smv
from nb_parity.tolerances import TOLERANCE
from tests.helpers import assert_same_counts, in_folder

SIZE = 32
FLAGS = [
    *("-cell", "70", "80", "90", "85", "95", "105", "-lambda", "1", "-N", "5"),
    *("-default_F", "100", "-distance", "100", "-detpixels", str(SIZE), "-pixel", "0.3"),
    *("-oversample", "1", "-mosaic", "0.2", "-mosaic_dom", "4", "-flux", "1e12"),
    *("-dtype", "float64", "-nopgm", "-quiet", "-seed", "21"),
]


def manifest(folder: Path, name: str = "manifest.csv") -> list[dict[str, str]]:
    with open(folder / name, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stills")
    (folder / "spectrum.txt").write_text("# lambda weight\n0.9 2\n1.0 1\n1.1 0\n")
    argv = [
        *("stills", "--shots", "6", "--shot-seed", "4", "--mosaic-range", "0.05:0.3"),
        *("--cells-range", "3:6", "--flux-sigma", "0.3", "--spectrum", "spectrum.txt"),
        *FLAGS,
    ]
    assert in_folder(folder, argv) == 0
    return folder


def test_a_shot_equals_a_separate_run_of_its_manifest_flags(varied: Path, tmp_path: Path) -> None:
    rows = manifest(varied)
    assert [int(r["number"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    tol = TOLERANCE["float64"]
    for row in (rows[0], rows[5]):
        number = int(row["number"])
        alone = tmp_path / f"shot{number}"
        names = ["-floatfile", "f.bin", "-intfile", "i.img", "-noisefile", "n.img"]
        assert in_folder(alone, ["simulate", *shlex.split(row["argv"]), *names]) == 0
        image = read_float_image(varied / f"floatimage_{number:05d}.bin", SIZE, SIZE)
        np.testing.assert_allclose(
            image, read_float_image(alone / "f.bin", SIZE, SIZE), rtol=tol.rtol, atol=tol.atol
        )
        assert image.max() > 0
        noise = read_smv(varied / f"noiseimage_{number:05d}.img").data
        assert_same_counts(noise, read_smv(alone / "n.img").data)
        assert row["files"].split() == [
            f"floatimage_{number:05d}.bin",
            f"intimage_{number:05d}.img",
            f"noiseimage_{number:05d}.img",
        ]
        assert int(row["seed"]) == 21 + number - 1


def test_variations_stay_in_their_ranges(varied: Path) -> None:
    rows = manifest(varied)
    mosaic = [float(r["mosaic_deg"]) for r in rows]
    cells = [float(r["Na"]) for r in rows]
    wavelengths = {float(r["lambda_A"]) for r in rows}
    fluences = [float(r["fluence"]) for r in rows]
    assert all(0.05 <= m <= 0.3 for m in mosaic)
    assert len(set(mosaic)) == 6
    assert all(c in (3.0, 4.0, 5.0, 6.0) for c in cells)
    assert all(float(r["Na"]) == float(r["Nb"]) == float(r["Nc"]) for r in rows)
    assert wavelengths <= {0.9, 1.0}
    assert len(wavelengths) >= 1
    # -flux 1e12 over the default 1 s and 0.1 mm beam: 1e20 photons/m^2, times a log-normal.
    assert len(set(fluences)) == 6
    assert all(1e19 < f < 1e21 for f in fluences)
    for row in rows:
        argv = shlex.split(row["argv"])
        given = float(argv[argv.index("-mosaic", len(FLAGS)) + 1])
        assert given == pytest.approx(float(row["mosaic_deg"]), rel=1e-14)


def test_the_orientation_matrix_file_gives_the_same_crystal(tmp_path: Path) -> None:
    assert in_folder(tmp_path, ["stills", "--shots", "2", "--shot-seed", "9", *FLAGS]) == 0
    row = manifest(tmp_path)[1]
    assert row["matfile"] == "orientation_00002.mat"
    no_cell = [a for a in FLAGS]
    del no_cell[no_cell.index("-cell") : no_cell.index("-cell") + 7]
    mat = tmp_path / "mat"
    flags = [*no_cell, "-mat", str(tmp_path / row["matfile"]), "-floatfile", "f.bin"]
    assert in_folder(mat, ["simulate", *flags]) == 0
    shot = read_float_image(tmp_path / "floatimage_00002.bin", SIZE, SIZE)
    from_matrix = read_float_image(mat / "f.bin", SIZE, SIZE)
    assert shot.max() > 0
    assert np.linalg.norm(from_matrix - shot) / np.linalg.norm(shot) < 1e-9


def test_orientations_are_uniform_on_so3() -> None:
    n = 4000
    rotations = np.stack([shot_rotation(1, k) for k in range(n)])
    # Every entry of a uniform random rotation has mean 0 and variance 1/3.
    assert np.abs(rotations.mean(axis=0)).max() < 4.0 / math.sqrt(3 * n)
    assert np.abs((rotations**2).mean(axis=0) - 1 / 3).max() < 0.03
    # The rotation angle has density (1 - cos t) / pi on [0, pi].
    cos_angle = np.clip((np.trace(rotations, axis1=1, axis2=2) - 1) / 2, -1, 1)
    angles = np.sort(np.arccos(cos_angle))
    cdf = (angles - np.sin(angles)) / math.pi
    ks = np.max(np.abs(cdf - np.arange(1, n + 1) / n))
    assert ks < 1.63 / math.sqrt(n)  # Kolmogorov-Smirnov at the 1% level
    np.testing.assert_allclose(
        np.einsum("nij,nkj->nik", rotations, rotations)[:5],
        np.eye(3)[None].repeat(5, 0),
        atol=1e-12,
    )


def test_misset_angles_give_the_drawn_rotation() -> None:
    for number in range(20):
        shot = shot_parameters(3, number, ShotVariation())
        angles = torch.tensor(shot.misset_deg, dtype=torch.float64) / (180 / math.pi)
        np.testing.assert_allclose(
            rotation_matrix_xyz(angles).numpy(), shot_rotation(3, number), atol=1e-12
        )


def test_a_shot_depends_only_on_its_number(tmp_path: Path) -> None:
    full, part = tmp_path / "full", tmp_path / "part"
    assert in_folder(full, ["stills", "--shots", "6", "--shot-seed", "2", *FLAGS]) == 0
    argv = ["stills", "--shots", "2", "--first", "5", "--shot-seed", "2", *FLAGS]
    assert in_folder(part, argv) == 0
    for number in (5, 6):
        for name in (f"noiseimage_{number:05d}.img", f"orientation_{number:05d}.mat"):
            assert (full / name).read_bytes() == (part / name).read_bytes()
    assert manifest(part) == manifest(full)[4:]


def test_a_parquet_manifest_without_pyarrow_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    argv = ["stills", "--shots", "2", "--manifest", "shots.parquet", *FLAGS]
    assert in_folder(tmp_path, argv) == 2
    err = capsys.readouterr().err
    assert err == (
        "nb: error: shots.parquet: writing Parquet needs pyarrow: "
        "pip install 'nanobragg-torch[parquet]' (or name a .csv)\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--shots", "0"], "nb: error: --shots: expected at least 1 shot"),
        (["--shots", "1000000000"], "nb: error: --shots: at most 1000000 shots in one run"),
        (
            ["--shots", "2", "--workers", "100000"],
            "nb: error: --workers: a local cluster of 100000",
        ),
        (
            ["--shots", "2", "--mosaic-range", "0.3:0.1"],
            "nb: error: --mosaic-range: expected LOW:HIGH with 0 <= LOW <= HIGH",
        ),
        (
            ["--shots", "2", "--cells-range", "0:4"],
            "nb: error: --cells-range: expected at least 1 unit cell",
        ),
        (["--shots", "2", "--shot-seed", "-1"], "nb: error: --shot-seed: expected a seed >= 0"),
        (["--shots", "2", "--flux-sigma", "-1"], "nb: error: --flux-sigma: expected a spread >= 0"),
        (
            ["--shots", "2", "--spectrum", "bad.txt"],
            "nb: error: bad.txt: line 2: expected 'wavelength(A) weight'",
        ),
    ],
)
def test_bad_stills_input_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    (tmp_path / "bad.txt").write_text("1.0 1\n1.1\n")
    assert in_folder(tmp_path, ["stills", *options, *FLAGS]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["bad.txt"]
