"""The parity strategies draw valid, small command lines, and their anchors are reachable.

No C binary needed: the drawn command lines parse and resolve in nb (and a handful render),
stay within the size bounds, and every building block can produce its simple anchor.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from nb_cli.flags import parse_args
from nb_core.io import read_smv
from nb_core.params import Experiment
from nb_core.resolve import load_inputs, resolve
from nb_parity import strategies as S
from nb_parity.runs import run_nb
from nb_parity.strategies import SIMPLE_CUBIC, Geometry, fmt, geometries

#: What the runners append after the drawn flags.
TAIL = ["-floatfile", "float.bin", "-intfile", "int.img", "-noprogress", "-nonoise", "-nopgm"]

FAST = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Reachability searches: generation only (no shrinking needed to know a value is reachable).
SEARCH = settings(
    max_examples=2000,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@contextlib.contextmanager
def _staged(geometry: Geometry) -> Iterator[Path]:
    old = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="nb-strategies-test-") as tmp:
        geometry.write_files(tmp)
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(old)


def _resolve(geometry: Geometry) -> Experiment:
    with _staged(geometry) as folder:
        parsed = parse_args([*geometry.argv, *TAIL])
        return resolve(
            parsed.settings,
            load_inputs(parsed.settings, workdir=folder),
            dtype=torch.float64,
            quirks=parsed.quirks,
        )


def _numbers(argv: tuple[str, ...], flag: str) -> list[float]:
    i = argv.index(flag)
    return [float(x) for x in argv[i + 1 : i + 4]]


@FAST
@given(geometry=geometries())
def test_drawn_command_lines_parse_and_resolve_within_bounds(geometry: Geometry) -> None:
    assert S.MIN_PIXELS <= geometry.fpixels <= S.MAX_PIXELS
    assert S.MIN_PIXELS <= geometry.spixels <= S.MAX_PIXELS
    assert all(isinstance(a, str) and a for a in geometry.argv)
    assert geometry.argv[0].startswith("-")
    for name in geometry.files:
        assert name in geometry.argv, f"{name} is not named on the command line"
    experiment = _resolve(geometry)
    static = experiment.static
    assert (static.fpixels, static.spixels) == (geometry.fpixels, geometry.spixels)
    work = static.evaluations_per_pixel * static.fpixels * static.spixels
    assert work <= S.MAX_EVALUATIONS, f"{work} evaluations"
    for name, data in geometry.files.items():
        if name.endswith(".img"):
            image = read_smv_bytes(data)
            assert image.shape == (geometry.spixels, geometry.fpixels)


def read_smv_bytes(data: bytes) -> np.ndarray:
    """The pixels of an SMV image given as bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.img"
        path.write_bytes(data)
        return read_smv(path).data


@settings(FAST, max_examples=6)
@given(geometry=geometries())
def test_drawn_geometries_render_in_nb(geometry: Geometry) -> None:
    run = run_nb(geometry.argv, inputs=dict(geometry.files), dtype="float64")
    assert run.returncode == 0, run.stdout[-500:]
    assert run.float_image is not None
    assert run.float_image.shape == (geometry.spixels, geometry.fpixels)


def test_simple_cubic_renders() -> None:
    run = run_nb(SIMPLE_CUBIC.argv, dtype="float64")
    assert run.returncode == 0, run.stdout
    assert run.float_image is not None
    assert run.float_image.max() > 0


@FAST
@given(cell=S.cells())
def test_cells_are_valid(cell: S.Cell) -> None:
    a, b, c = cell.lengths
    assert all(30 <= x <= 150 for x in (a, b, c))
    alpha, beta, gamma = cell.angles
    assert alpha + beta + gamma < 360
    assert alpha < beta + gamma
    assert beta < alpha + gamma
    assert gamma < alpha + beta
    values = [float(x) for x in cell.argv[1:]]
    assert values[:3] == [a, b, c]
    assert values[3:] in ([], [alpha, beta, gamma])


@FAST
@given(convention=S.conventions())
def test_custom_vectors_are_orthonormal(convention: S.Convention) -> None:
    argv = convention.argv
    if "-fdet_vector" in argv:
        f = np.array(_numbers(argv, "-fdet_vector"))
        s = np.array(_numbers(argv, "-sdet_vector"))
        o = np.array(_numbers(argv, "-odet_vector"))
        assert abs(np.linalg.norm(f) - 1) < 1e-5
        assert abs(np.linalg.norm(s) - 1) < 1e-5
        assert abs(f @ s) < 1e-5
        np.testing.assert_allclose(o, np.cross(f, s), atol=1e-5)
        assert float(np.dot(convention.beam, o)) >= 0.5
    if "-beam_vector" in argv:
        beam = np.array(_numbers(argv, "-beam_vector"))
        np.testing.assert_allclose(beam / np.linalg.norm(beam), convention.beam, atol=1e-5)
    if "-polar_vector" in argv:
        polar = np.array(_numbers(argv, "-polar_vector"))
        assert abs(float(np.dot(polar, convention.beam))) < 1e-5
    assert math.isclose(float(np.linalg.norm(convention.beam)), 1.0, rel_tol=1e-12)


@FAST
@given(part=S.sourcefiles(beam=(0.0, 0.0, 1.0), lambda_a=1.5))
def test_sources_lie_near_the_beam_and_end_lines(part: S.Part) -> None:
    text = dict(part.files)["sources.txt"].decode()
    assert text.endswith("\n")
    lines = text.splitlines()
    assert len(lines) == part.factor
    for line in lines:
        cols = [float(x) for x in line.split()]
        assert len(cols) in (3, 4, 5)
        pos = np.array(cols[:3])
        assert pos[2] < -9.9
        assert np.hypot(pos[0], pos[1]) < 0.03
        if len(cols) == 5:
            assert 1.4e-10 < cols[4] < 1.6e-10


@pytest.mark.parametrize(
    "value", [0.0, 1.0, -2.5, 100.0, 0.1, 12.345, 1e-7, 123456.789, 2.0 / 3.0, -0.0]
)
def test_fmt_writes_plain_decimals_that_read_back_exactly(value: float) -> None:
    text = fmt(value)
    assert "e" not in text.lower()
    assert float(text) == value
    assert not text.startswith("-0") or text.startswith("-0.")


def test_geometry_command_and_description() -> None:
    geometry = Geometry(("-cell", "100", "-hkl", "P1.hkl"), {"P1.hkl": b"0 0 0 1\n"}, 16, 16)
    assert geometry.command() == (
        "nb compare --c-bin $NB_C_BIN --outdir out -- -cell 100 -hkl P1.hkl"
    )
    text = geometry.describe()
    assert "cat > P1.hkl <<'EOF'\n0 0 0 1\nEOF" in text
    assert hash(geometry) == hash(Geometry(geometry.argv, dict(geometry.files), 16, 16))
    assert "<8 bytes>" in repr(geometry)


def test_anchors_are_reachable() -> None:
    assert find(geometries(), lambda g: g == SIMPLE_CUBIC, settings=SEARCH) == SIMPLE_CUBIC
    assert find(S.cells(), lambda c: c.angles == (90.0, 90.0, 90.0), settings=SEARCH)
    find(S.cells(), lambda c: c.lengths == (100.0, 100.0, 100.0), settings=SEARCH)
    assert find(S.missets(), lambda p: not p.groups, settings=SEARCH) == S.NOTHING
    find(S.missets(), lambda p: p.argv == ("-misset", "0", "0", "0"), settings=SEARCH)
    default = find(S.conventions(), lambda c: not c.groups, settings=SEARCH)
    assert default.name == "mosflm"
    find(S.phi_sweeps(), lambda p: ("-phi", "0") in p.groups and p.factor > 1, settings=SEARCH)
    find(S.oversampling(), lambda p: p.groups == (("-oversample", "1"),), settings=SEARCH)
    for block in (S.detector_rotations(), S.pivots(), S.shapes(), S.polarizations(), S.extras()):
        assert find(block, lambda p: not p.groups, settings=SEARCH) == S.NOTHING


#: Every flag the strategies can draw (the brief's list, aliases included).
EXPECTED_FLAGS = {
    *("-cell", "-misset", "-misset_seed", "-N", "-Na", "-Nb", "-Nc", "-lambda", "-energy"),
    *("-wavelength", "-default_F", "-hkl", "-interpolate", "-nointerpolate"),
    *("-detpixels", "-detpixels_x", "-detpixels_y", "-detpixels_f", "-detpixels_s"),
    *("-detsize", "-detsize_f", "-detsize_s", "-pixel", "-distance", "-close_distance"),
    *("-mosflm", "-xds", "-adxv", "-denzo", "-dials", "-fdet_vector", "-sdet_vector"),
    *("-odet_vector", "-beam_vector", "-spindle_axis", "-twotheta_axis", "-polar_vector"),
    *("-pix0_vector", "-detector_rotx", "-detector_roty", "-detector_rotz", "-twotheta"),
    *("-pivot", "-Xbeam", "-Ybeam", "-Xclose", "-Yclose", "-ORGX", "-ORGY"),
    *("-square_xtal", "-round_xtal", "-gauss_xtal", "-tophat_spots", "-binary_spots"),
    *("-fudge", "-oversample", "-oversample_thick", "-oversample_polar", "-oversample_omega"),
    *("-phi", "-osc", "-phisteps", "-phistep", "-mosaic", "-mosaic_spread", "-mosaicity"),
    *("-mosaic_dom", "-mosaic_domains", "-mosaic_seed", "-polar", "-nopolar"),
    *("-divergence", "-hdivrange", "-vdivrange", "-divsteps", "-hdivsteps", "-vdivsteps"),
    *("-hdivstep", "-vdivstep", "-round_div", "-square_div", "-dispersion", "-dispsteps"),
    *("-sourcefile", "-detector_abs", "-detector_absorb", "-detector_thick", "-thicksteps"),
    *("-detector_thicksteps", "-roi", "-mask", "-img", "-water", "-dmin", "-point_pixel"),
    *("-curved_det", "-fluence", "-flux", "-exposure", "-beamsize"),
}


def test_every_flag_is_drawn() -> None:
    seen: set[str] = set()
    headers: set[str] = set()

    @settings(SEARCH, max_examples=400)
    @given(geometry=geometries())
    def collect(geometry: Geometry) -> None:
        seen.update(a for a in geometry.argv if a.startswith("-") and a[1:2].isalpha())
        for name, data in geometry.files.items():
            if name.endswith(".img"):
                header = data.split(b"}", 1)[0].decode()
                headers.update(line.split("=")[0] for line in header.splitlines()[1:])

    collect()
    # The rarer flags come from single building blocks too (cheap, and independent of how
    # Hypothesis happens to explore the whole command line).
    for block in (S.conventions(), S.divergences(), S.extras(), S.detector_absorptions()):

        @settings(SEARCH, max_examples=200)
        @given(part=block)
        def collect_block(part: S.Part) -> None:
            seen.update(part.flags())

        collect_block()
    assert seen >= EXPECTED_FLAGS, f"never drawn: {sorted(EXPECTED_FLAGS - seen)}"
    assert {"SIZE1", "SIZE2"} <= headers

    pairs = S._header_pairs(
        fpixels=20, spixels=24, pixel_mm=0.1, distance_mm=100.0, lambda_a=1.0, phi=True
    )

    @settings(SEARCH, max_examples=200)
    @given(header=pairs)
    def collect_header(header: list[tuple[str, str]]) -> None:
        headers.update(key for key, _ in header)

    collect_header()
    keys = ("PIXEL_SIZE", "DISTANCE", "CLOSE_DISTANCE", "WAVELENGTH", "BEAM_CENTER_X")
    keys += ("BEAM_CENTER_Y", "ORGX", "ORGY", "PHI", "OSC_RANGE", "TWOTHETA", "COMMENT")
    assert headers >= set(keys)


@FAST
@given(data=st.data())
def test_work_bound_holds_for_each_block(data: st.DataObject) -> None:
    over = data.draw(S.oversampling(max_factor=4))
    assert over.factor <= 4
    phi = data.draw(S.phi_sweeps(max_steps=2))
    assert phi.factor <= 2
    mosaic = data.draw(S.mosaics(max_domains=3))
    assert mosaic.factor <= 3
    div = data.draw(S.divergences(max_sources=4))
    assert div.factor <= 4
    layers = data.draw(S.detector_absorptions(max_layers=2))
    assert layers.factor <= 2
