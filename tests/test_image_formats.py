"""miniCBF (``-cbffile``) and NeXus NXmx (``-nxsfile``) images: pixels and geometry.

The CBF is read with fabio (and, where the system Python has it, dxtbx); the NXmx file with
h5py, following the NXmx definition's ``depends_on`` chains to recompute every pixel's
position, and with dxtbx's NXmx reader where the system Python can run it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import nb_core.io._extras
from nb_cli import main
from nb_cli.simulate import prepare
from nb_core.geometry import detector_frame
from nb_core.geometry.pixels import subpixel_positions
from nb_core.io import CbfHeader, cbf_bytes, nexus_frame, read_float_image, read_smv
from nb_core.params import Experiment

fabio = pytest.importorskip("fabio", reason="the cbf extra (fabio) is not installed")
h5py = pytest.importorskip("h5py", reason="the nexus extra (h5py) is not installed")

SYSTEM_PYTHON = "/usr/bin/python3"
DIALS_FROM_NB = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])

SPOTS = [
    *("-cell", "70", "80", "90", "85", "95", "105", "-misset", "10", "20", "30"),
    *("-lambda", "1.1", "-N", "3", "-default_F", "100", "-nopgm", "-dtype", "float64"),
]
MOSFLM = [
    *("-detpixels_f", "90", "-detpixels_s", "70", "-pixel", "0.1", "-distance", "90"),
    *("-Xbeam", "3", "-Ybeam", "4", "-phi", "5", "-osc", "1", "-phisteps", "2", "-adc", "10"),
]
TILTED = [
    *("-detpixels_f", "80", "-detpixels_s", "60", "-pixel", "0.15", "-distance", "80"),
    *(
        "-beam_vector",
        "0",
        "0",
        "-1",
        "-fdet_vector",
        "1",
        "0",
        "0",
        "-sdet_vector",
        "0",
        "-1",
        "0",
    ),
    *("-odet_vector", "0", "0", "-1", "-spindle_axis", "1", "0", "0", "-Xbeam", "5", "-Ybeam", "4"),
    *("-detector_rotx", "3", "-detector_roty", "-2", "-twotheta", "10", "-phi", "2", "-osc", "0.5"),
    *("-detector_thick", "320", "-detector_abs", "400", "-nonoise"),
]


def _simulate(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["simulate", *argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def _experiment(argv: list[str]) -> Experiment:
    return prepare(argv).experiment


def _nb_pixel_centres(experiment: Experiment) -> np.ndarray:
    """``(S * F, 3)`` pixel centres (m), slow-major, nb's lab frame."""
    static = dataclasses.replace(experiment.static, oversample=1)
    frame = detector_frame(experiment.params, static)
    index = torch.arange(static.fpixels * static.spixels)
    return (
        subpixel_positions(index, experiment.params, static, frame, first_only=True)
        .reshape(-1, 3)
        .numpy()
    )


def _system_python(probe: str) -> None:
    if shutil.which(SYSTEM_PYTHON) is None:
        pytest.skip(f"{SYSTEM_PYTHON} is not here")
    result = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"the system Python cannot run: {probe}")


def _dxtbx_reads(script: str, image: str) -> dict:
    """What the system Python's dxtbx reports for ``image`` (``script`` prints it as JSON)."""
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", script, image],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_cbf_holds_the_int_image_and_the_pilatus_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out = _simulate([*SPOTS, *MOSFLM, "-intfile", "int_001.img", "-cbffile", "int_001.cbf"], capsys)
    scale = float(out.split("intfile_scale = ")[1].split()[0])
    image = fabio.open("int_001.cbf")
    smv = read_smv("int_001.img")
    assert image.data.dtype == np.int32
    assert np.array_equal(image.data, smv.data)
    lines = str(image.header["_array_data.header_contents"]).replace("\r", "").split("\n")
    words = [line[2:].split(None, 1) for line in lines if line.startswith("# ")]
    header = {w[0]: w[1] for w in words if len(w) == 2}
    report = _experiment([*SPOTS, *MOSFLM]).report
    px = report.detector.pixel_size
    assert header["Pixel_size"] == f"{px:.12g} m x {px:.12g} m"
    assert float(header["Wavelength"].split()[0]) == pytest.approx(1.1, rel=1e-12)
    assert float(header["Detector_distance"].split()[0]) == pytest.approx(0.09, rel=1e-12)
    beam_xy = [float(v) for v in header["Beam_xy"].strip("() pixels").split(",")]
    assert beam_xy == pytest.approx([report.frame.fbeam / px, report.frame.sbeam / px], rel=1e-11)
    assert beam_xy == pytest.approx([(4.0 + 0.05) / 0.1, (3.0 + 0.05) / 0.1], rel=1e-11)  # MOSFLM
    assert float(header["Start_angle"].split()[0]) == pytest.approx(5.0, rel=1e-12)
    assert float(header["Angle_increment"].split()[0]) == pytest.approx(1.0, rel=1e-12)
    assert float(header["NB_intfile_scale"]) == pytest.approx(scale, rel=1e-5)
    assert float(header["NB_adc_offset"]) == 10.0
    assert str(image.header["_array_data.header_convention"]) == "GENERIC_MINI"


_DXTBX_CBF = r"""
import json, sys
import dxtbx
image = dxtbx.load(sys.argv[1])
panel = image.get_detector()[0]
data = image.get_raw_data()
data = data[0] if isinstance(data, tuple) else data
print(json.dumps({"origin": list(panel.get_origin()), "fast": list(panel.get_fast_axis()),
                  "slow": list(panel.get_slow_axis()), "sum": int(sum(data)),
                  "oscillation": list(image.get_scan().get_oscillation())}))
"""


def test_cbf_through_dxtbx_places_the_untilted_detector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _system_python("import dxtbx, pycbf")
    monkeypatch.chdir(tmp_path)
    _simulate([*SPOTS, *MOSFLM, "-nonoise", "-cbffile", "int_001.cbf"], capsys)
    result = _dxtbx_reads(_DXTBX_CBF, "int_001.cbf")
    report = _experiment([*SPOTS, *MOSFLM]).report
    np.testing.assert_allclose(result["origin"], DIALS_FROM_NB @ report.frame.pix0 * 1e3, atol=1e-8)
    np.testing.assert_allclose(result["fast"], DIALS_FROM_NB @ report.frame.fdet, atol=1e-12)
    np.testing.assert_allclose(result["slow"], DIALS_FROM_NB @ report.frame.sdet, atol=1e-12)
    assert result["sum"] == int(fabio.open("int_001.cbf").data.astype(np.int64).sum())
    assert result["oscillation"] == pytest.approx([5.0, 1.0])


def test_cbf_of_whole_pilatus_modules_uses_the_pilatus_convention() -> None:
    pixels = np.arange(487 * 195, dtype=np.int32).reshape(195, 487) - 5
    header = CbfHeader(
        pixel_size=172e-6,
        distance=0.25,
        wavelength=0.9768e-10,
        beam_xy=(240.5, 97.0),
        thickness=450e-6,
    )
    raw = cbf_bytes(pixels, header)
    assert b'_array_data.header_convention "PILATUS_1.2"' in raw
    image = fabio.cbfimage.CbfImage()
    image.read(io.BytesIO(raw))
    assert np.array_equal(image.data, pixels)
    assert image.pilatus_headers["Beam_xy"] == (240.5, 97.0)
    assert image.pilatus_headers["sensor"] == ("Silicon", 450e-6)


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    k = axis / np.linalg.norm(axis)
    skew = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + math.sin(angle) * skew + (1.0 - math.cos(angle)) * (skew @ skew)


def _units(dataset: Any) -> float:
    """Metres or radians per stored unit."""
    return {"m": 1.0, "mm": 1e-3, "deg": math.pi / 180.0, "rad": 1.0}[dataset.attrs["units"]]


def _transformation(dataset: Any) -> np.ndarray:
    """The 4 x 4 matrix of one NeXus transformation axis at its first value."""
    value = float(np.atleast_1d(dataset[()])[0]) * _units(dataset)
    vector = np.asarray(dataset.attrs["vector"], dtype=np.float64)
    matrix = np.eye(4)
    if dataset.attrs["transformation_type"] == "rotation":
        matrix[:3, :3] = _rotation(vector, value)
    else:
        matrix[:3, 3] = value * vector
    offset = dataset.attrs.get("offset")
    if offset is not None:
        matrix[:3, 3] += (
            np.asarray(offset) * {"m": 1.0, "mm": 1e-3}[dataset.attrs.get("offset_units", "m")]
        )
    return matrix


def _chain(handle: Any, path: str) -> np.ndarray:
    """The cumulative transformation of a ``depends_on`` chain (NeXus: ``T_root ... T_self``)."""
    total = np.eye(4)
    while path and path != ".":
        dataset = handle[path]
        total = _transformation(dataset) @ total
        path = str(dataset.attrs["depends_on"])
        if path != "." and not path.startswith("/"):
            path = f"{dataset.parent.name}/{path}"
    return total


def test_nexus_pixels_and_geometry_by_the_nxmx_definition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _simulate([*SPOTS, *TILTED, "-floatfile", "float.bin", "-nxsfile", "image.nxs"], capsys)
    experiment = _experiment([*SPOTS, *TILTED])
    report = experiment.report
    frame = nexus_frame(report.beam.beam)
    assert np.allclose(frame @ frame.T, np.eye(3), atol=1e-15)
    assert np.linalg.det(frame) > 0
    np.testing.assert_allclose(frame @ report.beam.beam, [0.0, 0.0, 1.0], atol=1e-15)
    with h5py.File("image.nxs", "r") as handle:
        entry = handle["entry"]
        assert entry["definition"][()] == b"NXmx"
        data = entry["data/data"][()]
        assert data.shape == (1, 60, 80)
        assert data.dtype == np.float32
        assert np.array_equal(data[0], read_float_image("float.bin", 80, 60))
        assert float(entry["instrument/beam/incident_wavelength"][()]) == pytest.approx(
            1.1, rel=1e-15
        )
        module = entry["instrument/detector/module"]
        fast, slow = module["fast_pixel_direction"], module["slow_pixel_direction"]
        origin = _chain(handle, str(fast.attrs["depends_on"]))[:3, 3]
        px_f, px_s = float(fast[()][0]) * _units(fast), float(slow[()][0]) * _units(slow)
        f, s = np.meshgrid(np.arange(80) + 0.5, np.arange(60) + 0.5)
        mcstas = (
            origin
            + (f.reshape(-1, 1) * px_f) * np.asarray(fast.attrs["vector"])
            + (s.reshape(-1, 1) * px_s) * np.asarray(slow.attrs["vector"])
        )
        assert np.abs(mcstas - _nb_pixel_centres(experiment) @ frame.T).max() < 1e-12
        omega = entry["sample/transformations/omega"]
        assert entry["sample/depends_on"][()] == b"/entry/sample/transformations/omega"
        np.testing.assert_allclose(
            omega.attrs["vector"], frame @ report.crystal.spindle, atol=1e-15
        )
        width = float(entry["sample/transformations/omega_end"][0] - omega[0])
        assert [float(omega[0]), width] == pytest.approx([2.0, 0.5], rel=1e-12)
        assert float(entry["instrument/detector/sensor_thickness"][()]) == pytest.approx(320e-6)


_DXTBX_NXMX = r"""
import json, sys
import dxtbx
image = dxtbx.load(sys.argv[1])
panel = image.get_detector()[0]
print(json.dumps({"origin": list(panel.get_origin()), "fast": list(panel.get_fast_axis()),
                  "slow": list(panel.get_slow_axis()), "s0": list(image.get_beam().get_s0())}))
"""


def test_nexus_through_dxtbx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _system_python("import h5py, dxtbx.format.FormatNXmx")
    monkeypatch.chdir(tmp_path)
    _simulate([*SPOTS, *TILTED, "-nxsfile", "image.nxs"], capsys)
    result = _dxtbx_reads(_DXTBX_NXMX, "image.nxs")
    report = _experiment([*SPOTS, *TILTED]).report
    imgcif = np.diag([-1.0, 1.0, -1.0]) @ nexus_frame(report.beam.beam)
    np.testing.assert_allclose(result["origin"], imgcif @ report.frame.pix0 * 1e3, atol=1e-8)
    np.testing.assert_allclose(result["fast"], imgcif @ report.frame.fdet, atol=1e-12)
    np.testing.assert_allclose(result["slow"], imgcif @ report.frame.sdet, atol=1e-12)


def test_a_missing_extra_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    real_import = nb_core.io._extras.importlib.import_module

    def without(name: str) -> object:
        if name.split(".")[0] in ("fabio", "h5py"):
            raise ImportError(name)
        return real_import(name)

    monkeypatch.setattr(nb_core.io._extras.importlib, "import_module", without)
    for flag, extra in (("-cbffile", "cbf"), ("-nxsfile", "nexus")):
        code = main(["simulate", *SPOTS, *MOSFLM, flag, "x.out"])
        err = capsys.readouterr().err
        assert code == 2
        assert err.splitlines() == [
            f"nb: error: {flag}: needs {'fabio' if extra == 'cbf' else 'h5py'}, which is not "
            f"installed; pip install 'nanobragg-torch[{extra}]'"
        ]
    assert not list(tmp_path.iterdir())
