"""DIALS experiment lists: what ``-expt`` writes, against nb's own geometry and through dxtbx;
``-from_expt`` read back gives the same image; the SMV header dxtbx reads under
``-smv_header dials``.

dxtbx runs in the system Python (``/usr/bin/python3``), where Debian's package provides it;
those tests skip where it cannot be imported. The hand computation from the JSON always runs.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from nb_cli import main
from nb_cli.flags._table import FLAGS, NB_OPTIONS
from nb_cli.simulate import prepare
from nb_core.crystal.lattice import lattice_vectors
from nb_core.geometry import detector_frame
from nb_core.geometry.pixels import subpixel_positions
from nb_core.io import read_smv
from nb_core.params import Experiment
from nb_core.render import render

SYSTEM_PYTHON = "/usr/bin/python3"

#: DIALS (x, y, z) = nb (z, y, -x), written out here independently of nb_core.io.
DIALS_FROM_NB = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])

CRYSTAL = [*("-cell", "70", "80", "90", "85", "95", "105", "-misset", "10", "20", "30")]
SPOTS = [*("-lambda", "1", "-N", "3", "-default_F", "100", "-nonoise", "-nopgm")]

#: Geometry flags only: what -from_expt replaces.
GEOMETRY = {
    "mosflm_offset": [
        *("-detpixels", "96", "-pixel", "0.1", "-distance", "100"),
        *("-Xbeam", "10", "-Ybeam", "15", "-phi", "5", "-osc", "1"),
    ],
    "custom_tilted": [
        *("-detpixels_f", "80", "-detpixels_s", "60", "-pixel", "0.15"),
        *("-beam_vector", "0", "0", "-1", "-fdet_vector", "1", "0", "0"),
        *("-sdet_vector", "0", "-1", "0", "-odet_vector", "0", "0", "-1"),
        *("-polar_vector", "0", "1", "0", "-spindle_axis", "1", "0", "0"),
        *("-Xbeam", "5", "-Ybeam", "4", "-distance", "80", "-polar", "0.9"),
        *("-detector_rotx", "3", "-detector_roty", "-2", "-detector_rotz", "5", "-twotheta", "10"),
    ],
}
#: Flags of each case that -from_expt does not replace.
OTHER = {"mosflm_offset": ["-phisteps", "2"], "custom_tilted": []}


def _pilatus_flags(shared: Path) -> list[str]:
    flags = (shared / "data" / "pilatus6m_flags.txt").read_text().split()
    return [*flags, "-roi", "0", "15", "0", "15"]


def _argv(case: str, shared: Path) -> list[str]:
    if case == "pilatus":
        return _pilatus_flags(shared)
    return [*CRYSTAL, *SPOTS, *GEOMETRY[case], *OTHER[case]]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_dir: Path) -> Path:
    """A scratch folder holding the Pilatus frame's inputs, made the current folder."""
    for name in ("A.mat", "scaled.hkl"):
        (tmp_path / name).symlink_to(shared_dir / "data" / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _simulate(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["simulate", *argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def _experiment(argv: list[str]) -> Experiment:
    return prepare([*argv, "-dtype", "float64"]).experiment


def _nb_pixel_centres(experiment: Experiment) -> np.ndarray:
    """``(S * F, 3)`` centre of every pixel (m), slow-major, from nb_core.geometry.pixels."""
    params = experiment.params
    static = dataclasses.replace(experiment.static, oversample=1)
    frame = detector_frame(params, static)
    count = static.fpixels * static.spixels
    parts = []
    for start in range(0, count, 1 << 20):
        index = torch.arange(start, min(count, start + (1 << 20)))
        pos = subpixel_positions(index, params, static, frame, first_only=True)
        parts.append(pos.reshape(-1, 3).numpy())
    return np.concatenate(parts)


def _nb_a_matrix(experiment: Experiment) -> np.ndarray:
    """DIALS' A of nb's crystal: columns a*, b*, c* (Å⁻¹, DIALS frame), the reciprocal basis of
    the real-space vectors nb indexes with (h = a . S). With ``-cell`` the C program's printed
    reciprocal vectors differ from it by up to 1e-5 relative (it forces the cell's volume)."""
    real = np.array(experiment.report.lattice.real) * 1e10  # rows a, b, c (Å), nb frame
    return DIALS_FROM_NB @ np.linalg.inv(real)


#: Largest distance (m) between nb's pixels and the list's: the real Pilatus frame's fast and
#: slow axes are 4.6e-7 rad from perpendicular, which DIALS cannot hold (pixels move < 0.2 µm).
TOLERANCE = {"mosflm_offset": 1e-12, "custom_tilted": 1e-12, "pilatus": 1e-6}


def _write_expt(case: str, shared: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    argv = _argv(case, shared)
    out = _simulate(
        [*argv, "-dtype", "float64", "-intfile", f"{case}_001.img", "-expt", "run.expt"], capsys
    )
    assert ("from perpendicular" in out) == (case == "pilatus"), out
    return Path("run.expt")


def _panel_centres_from_json(document: dict) -> np.ndarray:
    """Pixel centres (m, nb frame) computed by hand from the list's panel (no dxtbx)."""
    panel = document["detector"][0]["panels"][0]
    fast, slow = np.array(panel["fast_axis"]), np.array(panel["slow_axis"])
    origin = np.array(panel["origin"])
    (nf, ns), (pf, ps) = panel["image_size"], panel["pixel_size"]
    f, s = np.meshgrid(np.arange(nf) + 0.5, np.arange(ns) + 0.5)
    mm = origin + (f.reshape(-1, 1) * pf) * fast + (s.reshape(-1, 1) * ps) * slow
    return (mm / 1000.0) @ DIALS_FROM_NB  # row vectors: nb = M^T dials


CASES = ["mosflm_offset", "custom_tilted", "pilatus"]


@pytest.mark.parametrize("case", CASES)
def test_expt_by_hand_matches_nb_pixels_beam_and_crystal(
    case: str, workdir: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expt = _write_expt(case, shared_dir, capsys)
    document = json.loads(expt.read_text())
    experiment = _experiment(_argv(case, shared_dir))
    nb = _nb_pixel_centres(experiment)
    by_hand = _panel_centres_from_json(document)
    assert np.abs(by_hand - nb).max() < TOLERANCE[case]  # m: the JSON holds nb's vectors
    report = experiment.report
    beam = document["beam"][0]
    s0 = -np.array(beam["direction"]) / beam["wavelength"]
    np.testing.assert_allclose(
        s0, DIALS_FROM_NB @ report.beam.beam / (report.beam.wavelength * 1e10), rtol=0, atol=1e-15
    )
    crystal = document["crystal"][0]
    real = np.array([crystal[f"real_space_{x}"] for x in "abc"])  # rows, DIALS frame, Å
    a_matrix = np.linalg.inv(real)  # columns a*, b*, c*
    expected = _nb_a_matrix(experiment)
    assert np.abs(a_matrix - expected).max() <= 1e-9 * np.abs(expected).max()
    assert document["imageset"][0]["images"] == [f"{case}_001.img"]


_DXTBX_SCRIPT = r"""
import json, sys
import numpy as np
from dxtbx import flumpy
from dxtbx.model.experiment_list import ExperimentListFactory
from scitbx import matrix
expt, out, phi = sys.argv[1], sys.argv[2], float(sys.argv[3])
e = ExperimentListFactory.from_json_file(expt, check_format=False)[0]
panel = e.detector[0]
nf, ns = panel.get_image_size()
f, s = np.meshgrid(np.arange(nf) + 0.5, np.arange(ns) + 0.5)
xy = flumpy.vec_from_numpy(np.stack([f.ravel(), s.ravel()], axis=1))
lab = flumpy.to_numpy(panel.get_lab_coord(panel.pixel_to_millimeter(xy)))
np.save(out, lab)
corners = [panel.get_pixel_lab_coord(p) for p in ((0.5, 0.5), (0.0, 0.0), (nf - 0.5, ns - 0.5))]
result = {"s0": list(e.beam.get_s0()), "A": list(e.crystal.get_A()), "corners": corners,
          "pedestal": panel.get_pedestal(), "gain": panel.get_gain()}
if e.goniometer is not None:
    axis = matrix.col(e.goniometer.get_rotation_axis())
    rot = axis.axis_and_angle_as_r3_rotation_matrix(phi, deg=True)
    result.update(axis=list(axis), oscillation=list(e.scan.get_oscillation()),
                  A_at_phi=list(rot * matrix.sqr(e.crystal.get_A())))
print(json.dumps(result))
"""


def _dxtbx(*args: str) -> str:
    """Run a script with the system Python's dxtbx; skip the test where it is missing."""
    if shutil.which(SYSTEM_PYTHON) is None:
        pytest.skip(f"{SYSTEM_PYTHON} is not here")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import dxtbx"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("dxtbx is not importable by the system Python")
    proc = subprocess.run(
        [SYSTEM_PYTHON, *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("case", CASES)
def test_expt_through_dxtbx_every_pixel_beam_crystal_and_sweep(
    case: str, workdir: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expt = _write_expt(case, shared_dir, capsys)
    experiment = _experiment(_argv(case, shared_dir))
    phis = experiment.report.crystal.phis
    phi_deg = float(np.degrees(phis[1] if len(phis) > 1 else 0.0))
    result = json.loads(_dxtbx("-c", _DXTBX_SCRIPT, str(expt), "lab.npy", repr(phi_deg)))
    dxtbx_lab = np.load("lab.npy") / 1000.0 @ DIALS_FROM_NB  # mm, DIALS -> m, nb
    nb = _nb_pixel_centres(experiment)
    assert np.abs(dxtbx_lab - nb).max() < 1e-6  # m, every pixel
    # dxtbx pixel coordinate (f + 0.5, s + 0.5) is the centre of pixel (f, s); (0, 0) is the
    # outer corner nb calls pix0.
    centre, corner, last = (np.array(c) / 1000.0 @ DIALS_FROM_NB for c in result["corners"])
    tolerance = max(TOLERANCE[case], 1e-12)
    assert np.abs(centre - nb[0]).max() < tolerance
    assert np.abs(corner - np.array(experiment.report.frame.pix0)).max() < 1e-12
    assert np.abs(last - nb[-1]).max() < tolerance
    report = experiment.report
    s0 = DIALS_FROM_NB @ report.beam.beam / (report.beam.wavelength * 1e10)
    np.testing.assert_allclose(result["s0"], s0, rtol=0, atol=1e-12)
    a_nb = _nb_a_matrix(experiment)
    a_dxtbx = np.array(result["A"]).reshape(3, 3)
    assert np.abs(a_dxtbx - a_nb).max() <= 1e-9 * np.abs(a_nb).max()
    if len(phis) > 1:  # the sweep: axis, oscillation and the sense of rotation
        np.testing.assert_allclose(
            result["axis"], DIALS_FROM_NB @ report.crystal.spindle, atol=1e-12
        )
        sampling = report.sampling
        assert result["oscillation"] == pytest.approx(
            np.degrees([sampling.phi0, sampling.osc]), rel=1e-12
        )
        real_at_phi = lattice_vectors(experiment.params, experiment.static)[1, 0].numpy() * 1e10
        reciprocal_at_phi = DIALS_FROM_NB @ np.linalg.inv(real_at_phi)  # columns a*, b*, c*
        a_at_phi = np.array(result["A_at_phi"]).reshape(3, 3)
        assert np.abs(a_at_phi - reciprocal_at_phi).max() <= 1e-9 * np.abs(a_nb).max()


def _render(argv: list[str]) -> np.ndarray:
    experiment = _experiment(argv)
    with torch.no_grad():
        return render(experiment.params, experiment.static).numpy()


@pytest.mark.parametrize("case", ["mosflm_offset", "custom_tilted"])
def test_from_expt_round_trip_gives_the_same_image(
    case: str, workdir: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expt = _write_expt(case, shared_dir, capsys)
    first = _render(_argv(case, shared_dir))
    again = _render([*SPOTS, *OTHER[case], "-from_expt", str(expt)])
    assert first.max() > 1.0  # spots on the detector
    assert np.linalg.norm(again - first) <= 1e-9 * np.linalg.norm(first)
    settings = prepare(["-from_expt", str(expt), *SPOTS]).parsed.settings
    assert settings.convention == "custom"
    assert settings.pivot == "sample"


def test_flags_after_from_expt_override_it(
    workdir: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expt = _write_expt("mosflm_offset", shared_dir, capsys)
    experiment = _experiment([*SPOTS, "-from_expt", str(expt), "-lambda", "1.5"])
    assert experiment.report.beam.wavelength == pytest.approx(1.5e-10, rel=1e-15)


def _refused(code: int, capsys: pytest.CaptureFixture[str], *words: str) -> str:
    out = capsys.readouterr()
    assert code == 2, out.err
    lines = out.err.splitlines()
    assert len(lines) == 1, out.err
    assert lines[0].startswith("nb: error: bad.expt: "), lines[0]
    assert "Traceback" not in out.err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_from_expt_errors_name_the_file_and_the_key(
    workdir: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expt = _write_expt("mosflm_offset", shared_dir, capsys)
    good = json.loads(expt.read_text())
    before = {p.name: p.stat().st_mtime_ns for p in workdir.iterdir()}
    bad = Path("bad.expt")
    bad.write_text('{"__id__": "ExperimentList", "experiment": [')
    _refused(main(["simulate", "-from_expt", "bad.expt", *SPOTS]), capsys, "bad JSON", "line 1")
    two = json.loads(expt.read_text())
    two["detector"][0]["panels"].append(two["detector"][0]["panels"][0])
    bad.write_text(json.dumps(two))
    _refused(
        main(["simulate", "-from_expt", "bad.expt", *SPOTS]),
        capsys,
        "detector[0].panels",
        "2 panels",
    )
    missing = json.loads(json.dumps(good))
    del missing["beam"][0]["wavelength"]
    bad.write_text(json.dumps(missing))
    _refused(
        main(["simulate", "-from_expt", "bad.expt", *SPOTS]),
        capsys,
        "beam[0].wavelength",
        "missing",
    )
    broken = json.loads(json.dumps(good))
    broken["detector"][0]["panels"][0]["origin"] = [0.0, "far", 1.0]
    bad.write_text(json.dumps(broken))
    _refused(main(["simulate", "-from_expt", "bad.expt", *SPOTS]), capsys, "panels[0].origin")
    after = {p.name: p.stat().st_mtime_ns for p in workdir.iterdir() if p.name != "bad.expt"}
    assert after == before  # nothing written


def test_new_options_collide_with_no_c_flag() -> None:
    """The C program matches flags by substring: none of its tests may fire on nb's names."""
    names = [
        o.name
        for o in NB_OPTIONS
        if o.name in ("-expt", "-from_expt", "-smv_header", "-cbffile", "-nxsfile")
    ]
    assert len(names) == 5
    for name in names:
        assert not [f.name for f in FLAGS for c in f.clauses if c.matches(name)], name


_JHSIM_SCRIPT = r"""
import json, sys
import dxtbx
image = dxtbx.load(sys.argv[1])
panel = image.get_detector()[0]
print(json.dumps({"class": type(image).__name__, "origin": list(panel.get_origin()),
                  "pedestal": panel.get_pedestal(),
                  "centre": list(panel.get_beam_centre(image.get_beam().get_s0()))}))
"""


@pytest.mark.parametrize("detpixels", ["256", "96"])
def test_smv_header_dials_gives_dxtbx_nb_beam_centre_and_pedestal(
    detpixels: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        *CRYSTAL,
        *SPOTS,
        "-detpixels",
        detpixels,
        "-Xbeam",
        "10",
        "-Ybeam",
        "15",
        "-distance",
        "100",
        "-adc",
        "12",
        "-dtype",
        "float64",
    ]
    _simulate([*argv, "-intfile", "c_001.img"], capsys)
    _simulate([*argv, "-intfile", "dials_001.img", "-smv_header", "dials"], capsys)
    c_header, dials_header = read_smv("c_001.img").header, read_smv("dials_001.img").header
    assert "ADC_OFFSET" not in c_header
    assert "NB_INTFILE_SCALE" not in c_header
    assert dials_header["ADC_OFFSET"] == "12"
    assert set(dials_header) - set(c_header) == {"ADC_OFFSET", "NB_INTFILE_SCALE"}
    frame = _experiment(argv).report.frame
    pix0_mm = DIALS_FROM_NB @ np.array(frame.pix0) * 1000.0
    dials = json.loads(_dxtbx("-c", _JHSIM_SCRIPT, "dials_001.img"))
    assert dials["class"] == "FormatSMVJHSim"
    np.testing.assert_allclose(dials["origin"], pix0_mm, rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        dials["centre"], [frame.fbeam * 1e3, frame.sbeam * 1e3], rtol=0, atol=1e-6
    )
    assert dials["pedestal"] == 12.0
    c = json.loads(_dxtbx("-c", _JHSIM_SCRIPT, "c_001.img"))  # the C program's keys: off
    assert abs(c["centre"][0] - frame.fbeam * 1e3) > 0.04


def test_refine_starts_from_an_experiment_list(
    workdir: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _argv("mosflm_offset", shared_dir)
    _simulate(
        [*argv, "-dtype", "float64", "-floatfile", "observed.bin", "-expt", "run.expt"], capsys
    )
    moved = json.loads(Path("run.expt").read_text())
    moved["detector"][0]["panels"][0]["origin"][2] -= 0.5  # 0.5 mm further along the beam
    Path("moved.expt").write_text(json.dumps(moved))
    start = [*SPOTS, *OTHER["mosflm_offset"], "-from_expt", "moved.expt"]
    assert _experiment(start).report.frame.distance == pytest.approx(0.1005, rel=1e-12)
    code = main(["refine", "observed.bin", "--refine", "distance", "--json", "fit.json", *start])
    assert code == 0, capsys.readouterr().err
    fit = json.loads(Path("fit.json").read_text())
    assert fit["parameters"]["distance"] == pytest.approx(100.0, abs=1e-3)


@pytest.mark.parametrize(
    ("extra", "flag", "words"),
    [
        (["-smv_header", "adsc"], "-smv_header", "expected c or dials, got 'adsc'"),
        # The C program acts on -curved_det only when an argument follows it.
        (["-curved_det", "-nopgm", "-expt", "x.expt"], "-expt", "curved detector"),
    ],
)
def test_exchange_options_refused_before_the_render(
    extra: list[str], flag: str, words: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["simulate", *CRYSTAL, *SPOTS, "-detpixels", "16", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [f"nb: error: {flag}: {err.split(f'{flag}: ', 1)[1].strip()}"]
    assert words in err
    assert not [p for p in workdir.iterdir() if p.suffix in (".bin", ".img", ".expt")]


def test_from_expt_composes_a_panel_hierarchy(
    workdir: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A panel inside a turned and shifted group (as DIALS writes a refined detector) reads
    as the same flat panel."""
    expt = _write_expt("custom_tilted", shared_dir, capsys)
    document = json.loads(expt.read_text())
    panel = document["detector"][0]["panels"][0]
    turn = np.array([[0.6, 0.8, 0.0], [-0.8, 0.6, 0.0], [0.0, 0.0, 1.0]])  # rows: group axes
    shift = np.array([3.0, -2.0, -40.0])
    basis = np.stack([turn[0], turn[1], np.cross(turn[0], turn[1])], axis=1)
    local = {k: list(basis.T @ np.array(panel[k])) for k in ("fast_axis", "slow_axis")}
    local["origin"] = list(basis.T @ (np.array(panel["origin"]) - shift))
    group = {"fast_axis": list(turn[0]), "slow_axis": list(turn[1]), "origin": list(shift)}
    group["children"] = [{"panel": 0}]
    root = document["detector"][0]["hierarchy"]
    root["children"] = [group]
    panel.update(local)
    Path("nested.expt").write_text(json.dumps(document))
    flat = _experiment([*SPOTS, "-from_expt", str(expt)]).report.frame
    nested = _experiment([*SPOTS, "-from_expt", "nested.expt"]).report.frame
    for name in ("fdet", "sdet", "odet", "pix0"):
        np.testing.assert_allclose(getattr(nested, name), getattr(flat, name), rtol=0, atol=1e-14)
