"""``nb series``: each frame of a rotation series is a separate run of its own flags.

Frame n of ``nb series --frames N FLAGS`` must equal ``nb simulate FLAGS -phi PHI+(n-1)*OSC
-seed SEED+n-1`` (names templated) and the C program's run of those flags: float image, SMV
header (PHI, OSC_START, OSC_RANGE), noise image pixel for pixel.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nb_cli import main
from nb_cli.flags import parse_args, to_c_argv
from nb_core.io import read_float_image, read_smv
from nb_parity.tolerances import TOLERANCE
from tests.helpers import assert_same_counts

PHI, OSC = -0.4, 0.2
BASE = [
    *("-cell", "70", "80", "90", "85", "95", "105", "-misset", "10", "20", "30"),
    *("-lambda", "1", "-N", "4", "-default_F", "100", "-distance", "80", "-pixel", "0.2"),
    *("-detpixels", "24", "-oversample", "2", "-mosaic", "0.2", "-mosaic_dom", "3"),
    *("-phi", str(PHI), "-osc", str(OSC), "-phisteps", "2", "-seed", "11", "-nopgm"),
    *("-dtype", "float64", "-quiet", "-noprogress"),
]
SIZE = 24


def frame_flags(number: int) -> list[str]:
    """Frame ``number``'s flags for a separate run, built by hand from the series' rule."""
    phi = PHI + (number - 1) * OSC
    return [
        *BASE,
        *("-phi", repr(phi), "-seed", str(11 + number - 1)),
        *("-floatfile", "float.bin", "-intfile", "int.img", "-noisefile", "noise.img"),
    ]


def run_main(folder: Path, argv: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        assert main(argv) == 0
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def series_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("series")
    run_main(folder, ["series", "--frames", "50", *BASE])
    return folder


def frame_files(folder: Path, number: int) -> tuple[np.ndarray, Path, Path]:
    return (
        read_float_image(folder / f"floatimage_{number:05d}.bin", SIZE, SIZE),
        folder / f"intimage_{number:05d}.img",
        folder / f"noiseimage_{number:05d}.img",
    )


def test_a_series_writes_every_frame_under_its_template(series_folder: Path) -> None:
    names = sorted(p.name for p in series_folder.iterdir())
    assert len(names) == 150
    assert names[0] == "floatimage_00001.bin"
    assert names[-1] == "noiseimage_00050.img"
    assert [p for p in names if p.startswith(".")] == []


@pytest.mark.parametrize("number", [1, 2, 3, 50])
def test_a_frame_equals_a_separate_run(series_folder: Path, tmp_path: Path, number: int) -> None:
    # Frame 3 starts exactly at phi = 0 (the phi0 quirk), frame 50 at 9.4 deg.
    run_main(tmp_path, ["simulate", *frame_flags(number)])
    image, intfile, noisefile = frame_files(series_folder, number)
    alone = read_float_image(tmp_path / "float.bin", SIZE, SIZE)
    tol = TOLERANCE["float64"]
    np.testing.assert_allclose(image, alone, rtol=tol.rtol, atol=tol.atol)
    assert image.max() > 0
    assert read_smv(intfile).header == read_smv(tmp_path / "int.img").header
    assert_same_counts(read_smv(noisefile).data, read_smv(tmp_path / "noise.img").data)


def test_frame_headers_carry_their_angles(series_folder: Path) -> None:
    for number in (1, 2, 50):
        header = read_smv(series_folder / f"intimage_{number:05d}.img").header
        phi = PHI + (number - 1) * OSC
        assert float(header["PHI"]) == pytest.approx(phi, abs=1e-5)
        assert float(header["OSC_START"]) == pytest.approx(phi, abs=1e-5)
        assert float(header["OSC_RANGE"]) == pytest.approx(OSC)


@pytest.mark.parametrize("number", [1, 2, 3, 50])
def test_a_frame_equals_the_c_programs(series_folder: Path, tmp_path: Path, number: int) -> None:
    binary = os.environ.get("NB_C_BIN")
    if not binary:
        pytest.skip("NB_C_BIN is not set: no C binary to compare with")
    argv = to_c_argv(parse_args(frame_flags(number)))
    subprocess.run(
        [binary, *argv],
        cwd=tmp_path,
        capture_output=True,
        check=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=120,
    )
    image, intfile, noisefile = frame_files(series_folder, number)
    c_image = read_float_image(tmp_path / "float.bin", SIZE, SIZE)
    tol = TOLERANCE["float64"]
    rel_l2 = np.linalg.norm(image - c_image) / np.linalg.norm(c_image)
    assert rel_l2 < tol.rel_l2
    assert np.abs(image - c_image).max() <= tol.max_rel * np.abs(c_image).max()
    c_header = read_smv(tmp_path / "int.img").header
    nb_header = read_smv(intfile).header
    for key in ("PHI", "OSC_START", "OSC_RANGE"):
        assert float(nb_header[key]) == pytest.approx(float(c_header[key]), abs=1e-6), key
    assert_same_counts(read_smv(noisefile).data, read_smv(tmp_path / "noise.img").data)


def test_a_part_of_a_series_makes_the_same_frames(series_folder: Path, tmp_path: Path) -> None:
    run_main(tmp_path, ["series", "--frames", "2", "--first", "49", *BASE])
    for number in (49, 50):
        for name in (f"floatimage_{number:05d}.bin", f"noiseimage_{number:05d}.img"):
            assert (tmp_path / name).read_bytes() == (series_folder / name).read_bytes()
    assert not (tmp_path / "floatimage_00048.bin").exists()


def test_hash_templates_and_a_manifest(tmp_path: Path) -> None:
    argv = [*BASE, "-intfile", "lyso_###.img", "-floatfile", "raw/lyso_#.bin"]
    (tmp_path / "raw").mkdir()
    run_main(tmp_path, ["series", "--frames", "12", "--manifest", "frames.csv", *argv])
    assert (tmp_path / "lyso_012.img").is_file()
    assert (tmp_path / "raw" / "lyso_12.bin").is_file()
    rows = (tmp_path / "frames.csv").read_text().splitlines()
    assert len(rows) == 13
    header = rows[0].split(",")
    last = dict(zip(header, rows[-1].split(","), strict=False))
    assert float(last["phi_deg"]) == pytest.approx(PHI + 11 * OSC)
    assert float(last["osc_deg"]) == pytest.approx(OSC)
    assert int(last["seed"]) == 11 + 11


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--frames", "3", "-cell", "100", "100", "100", "90", "90", "90", "-default_F", "1"],
            "nb: error: -osc: a series needs the oscillation of one frame",
        ),
        (["--frames", "0", *BASE], "nb: error: --frames: expected at least 1 frame"),
        (["--frames", "1000000000", *BASE], "nb: error: --frames: at most 1000000 frames"),
        (["--frames", "2", "--batch", "0", *BASE], "nb: error: --batch: expected at least 1"),
        (["--frames", "2", *BASE, "-distance", "-5"], "nb: error: image 1: -distance"),
    ],
)
def test_bad_series_input_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["series", *argv]) == 2
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_auto_compile_counts_a_frame_with_a_kernel_of_its_own_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frame 1 at phi = 0 (the phi0 quirk's static options) is weighed alone; the rest together."""
    import nb_cli.batch as batch
    from nb_cli.series import series_jobs

    asked: list[tuple[bool, int]] = []

    def want_compile(choice: str, experiment, device: str, images: int = 1) -> bool:
        asked.append((experiment.static.phi_source_first != experiment.static.phi_source, images))
        return False

    monkeypatch.setattr(batch, "_want_compile", want_compile)
    jobs = series_jobs([*BASE, "-phi", "0", "-outdir", str(tmp_path)], 10)
    assert [job.own_kernel for job in jobs] == [True] + [False] * 9
    batch.render_jobs(jobs, batch.BatchOptions(images=10), say=lambda line: None)
    assert asked == [(True, 1), (False, 10)]  # once per kernel
    # A series whose steps never land on 0 has no such frame.
    assert not any(job.own_kernel for job in series_jobs([*BASE, "-phi", "0.05"], 10))


@pytest.mark.parametrize(
    ("phi", "osc", "steps", "expected"),
    [("0", "0.1", "1", True), ("-0.4", "0.2", "2", False), ("-0.4", "0.8", "4", True)],
)
def test_a_zero_phi_step_is_found_as_the_resolve_makes_the_steps(
    phi: str, osc: str, steps: str, expected: bool
) -> None:
    from nb_core.datasets import has_zero_phi_step
    from nb_core.resolve._sampling import phi_steps

    settings = parse_args([*BASE, "-phi", phi, "-osc", osc, "-phisteps", steps]).settings
    phi0, _, step, count = phi_steps(settings)
    assert has_zero_phi_step(settings) is expected
    assert expected is any(phi0 + step * tic == 0.0 for tic in range(count))


def test_a_zero_phi_step_is_found_without_walking_every_step() -> None:
    from nb_core.datasets import has_zero_phi_step

    many = parse_args([*BASE, "-phi", "-50", "-osc", "100", "-phisteps", "2000000000"])
    assert has_zero_phi_step(many.settings)  # step 10^9 lands on 0; found at once
