"""Refinement on realistic frames: C-made noisy images, models started well away, `nb refine`.

Each :class:`FrameScenario` is a true model (flags), the C program's Poisson noise image of it
(``-noisefile``; nb's own render with numpy's Poisson draws when no C binary is given), and a
starting model some millimetres, pixels, tenths of a degree and tenths of a percent away. The
fit runs through ``nb refine`` itself (:func:`nb_cli.refine.refine_command`). Orientation
errors are measured as the rotation between the refined and the true crystal (per lab axis),
so that a model started from a matrix is judged the same way as one started from ``-misset``.
"""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nb_cli.flags import parse_args
from nb_cli.refine import refine_command
from nb_core.io import read_matrix
from nb_core.model import Simulator
from nb_core.refine import FitResult
from nb_core.render import render
from nb_core.resolve import load_inputs, resolve

__all__ = [
    "FRAMES",
    "FrameResult",
    "FrameScenario",
    "orientation_error",
    "run_frame",
    "tolerance_of",
]

_PILATUS = (
    "-hkl scaled.hkl -nointerpolate -oversample 1 -exposure 1 -flux 1e20 -beamsize 1.0 "
    "-spindle_axis -1 0 0 -Xbeam 217.742295 -Ybeam 213.907080 -distance 231.274660 "
    "-lambda 0.976800 -pixel 0.172 -detpixels_x 2463 -detpixels_y 2527 -odet_vector -0.000088 "
    "0.004914 -0.999988 -sdet_vector -0.005998 -0.999970 -0.004913 -fdet_vector 0.999982 "
    "-0.005998 -0.000118 -beam_vector 0.00051387949 0.0 -0.99999986 -Na 36 -Nb 47 -Nc 29 "
    "-osc 0.1 -phi 0 -phisteps 3 -roi 700 1723 700 1723 -mosaic 0.05 -mosaic_domains 5"
).split()


def _triclinic(flux: str) -> tuple[str, ...]:
    """A triclinic crystal on a 1024 x 1024 detector, mosaic spread and a 0.6 deg sweep."""
    return tuple(
        (
            "-cell 70 80 90 85 95 105 -misset 10 5 3 -default_F 100 -lambda 1 -N 15 "
            "-detpixels 1024 -pixel 0.1 -distance 150 -oversample 1 -exposure 1 -beamsize 0.1 "
            f"-mosaic 0.1 -mosaic_domains 5 -osc 0.2 -phisteps 3 -flux {flux}"
        ).split()
    )


_TRICLINIC = _triclinic("1e19")


@dataclass(frozen=True)
class FrameScenario:
    """A true model, how its start is moved away, and what is refined.

    Attributes:
        name: Short name.
        description: What the frame is and how far the start is.
        truth: Flags of the true model (files named in them are copied from the data folder).
        start: Flags appended for the starting model.
        matrix: ``(misset deg x, y, z, cell scale a, b, c)`` applied to the true model's
            orientation matrix to make a starting ``-mat`` file; None: no matrix start.
        refine: Names given to ``--refine``.
        tolerance: Allowed |refined - true| per report label (user units; ``orientation`` per
            lab axis in degrees).
    """

    name: str
    description: str
    truth: tuple[str, ...]
    start: tuple[str, ...]
    matrix: tuple[float, ...] | None
    refine: tuple[str, ...]
    tolerance: dict[str, float]


FRAMES: tuple[FrameScenario, ...] = (
    FrameScenario(
        "pilatus_matrix",
        "1024 x 1024 region of the real Pilatus 6M frame (A.mat, scaled.hkl, 3 phi steps, "
        "mosaic 0.05 deg); the start from a -mat rotated by 0.35/-0.3/0.38 deg with cell "
        "edges 0.45/-0.4/0.42% off, distance 4 mm, beam centre 1.7 px off",
        ("-mat", "A.mat", *_PILATUS),
        ("-distance", "235.27466", "-Xbeam", "218.0347", "-Ybeam", "213.6147"),
        (0.35, -0.3, 0.38, 1.0045, 0.996, 1.0042),
        ("distance", "Xbeam", "Ybeam", "misset", "cell"),
        {"distance": 0.05, "Xbeam": 0.01, "Ybeam": 0.01, "orientation": 0.02, "cell": 0.05},
    ),
    FrameScenario(
        "triclinic_sweep",
        "1024 x 1024 frame of a triclinic cell, mosaic 0.1 deg, 0.6 deg phi sweep; start "
        "3.5 mm, 1.5/2 px, 0.3/-0.4/0.35 deg and +0.45% / +0.3 deg off",
        _TRICLINIC,
        (
            "-distance",
            "153.5",
            "-Xbeam",
            "51.4",
            "-Ybeam",
            "51.05",
            "-misset",
            "10.3",
            "4.6",
            "3.35",
            "-cell",
            "70.315",
            "80.36",
            "90.405",
            "85.3",
            "95.3",
            "105.3",
        ),
        None,
        ("distance", "Xbeam", "Ybeam", "misset", "cell"),
        {"distance": 0.05, "Xbeam": 0.01, "Ybeam": 0.01, "orientation": 0.02, "cell": 0.05},
    ),
    FrameScenario(
        "tilted_detector",
        "the triclinic frame on a detector tilted -0.8 deg about y and 0.5 deg about z (and "
        "turned 1 deg about the beam); start with both tilts 0.3 deg off, 3 mm, 1.5 px and "
        "0.3 deg away (the turn about the beam is one rotation with the crystal's about x: "
        "held)",
        (*_TRICLINIC, "-detector_rotx", "1", "-detector_roty", "-0.8", "-detector_rotz", "0.5"),
        (
            "-detector_rotx",
            "1",
            "-detector_roty",
            "-0.5",
            "-detector_rotz",
            "0.8",
            "-distance",
            "153",
            "-Xbeam",
            "51.4",
            "-Ybeam",
            "51.1",
            "-misset",
            "10.3",
            "4.7",
            "3.3",
        ),
        None,
        ("distance", "Xbeam", "Ybeam", "detector_roty", "detector_rotz", "misset"),
        {
            "distance": 0.05,
            "Xbeam": 0.01,
            "Ybeam": 0.01,
            "detector_roty": 0.03,
            "detector_rotz": 0.03,
            "orientation": 0.02,
        },
    ),
    FrameScenario(
        "few_photons",
        "the triclinic frame at 1/30 of the flux (a few photons per spot pixel); start 4 mm, "
        "2 px, 0.4 deg and 0.5% off",
        _triclinic("3e17"),
        (
            "-distance",
            "154",
            "-Xbeam",
            "51.45",
            "-Ybeam",
            "51.05",
            "-misset",
            "10.4",
            "4.6",
            "3.4",
            "-cell",
            "70.35",
            "80.4",
            "90.45",
            "85.2",
            "95.2",
            "104.8",
        ),
        None,
        ("distance", "Xbeam", "Ybeam", "misset", "cell"),
        {"distance": 0.05, "Xbeam": 0.01, "Ybeam": 0.01, "orientation": 0.02, "cell": 0.05},
    ),
)


@dataclass
class FrameResult:
    """A frame's fit and how it compares with the truth.

    Attributes:
        scenario: The scenario.
        fit: The fit.
        truth: True value per report label (the fit's labels; ``orientation.x/y/z`` added).
        errors: refined - true per label.
        sigmas: One-sigma uncertainty per label.
        passed: Every error within its tolerance and within 3 sigma.
        source: "C program" or "nb".
        wall: Wall time of the whole ``nb refine`` call (s).
    """

    scenario: FrameScenario
    fit: FitResult
    truth: dict[str, float] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)
    sigmas: dict[str, float] = field(default_factory=dict)
    passed: bool = False
    source: str = "nb"
    wall: float = 0.0


def orientation_error(refined: np.ndarray, true: np.ndarray) -> np.ndarray:
    """The small rotation (deg about lab x, y, z) from the true crystal to the refined one.

    Args:
        refined: ``(3, 3)`` refined ``-mat`` matrix (columns a*, b*, c* times lambda).
        true: ``(3, 3)`` true matrix, same layout.

    Returns:
        ``(3,)`` rotation vector in degrees (the cells' strain removed by a polar factor).
    """
    mixed = np.linalg.solve(true.T, refined.T).T  # refined = mixed @ true (columns)
    left, _, right = np.linalg.svd(mixed)
    rotation = left @ right
    skew = 0.5 * (rotation - rotation.T)
    return np.degrees(np.array([skew[2, 1], skew[0, 2], skew[1, 0]]))


def _experiment(argv: Sequence[str]):
    parsed = parse_args(list(argv))
    return resolve(parsed.settings, load_inputs(parsed.settings), dtype=torch.float64)


def _make_observed(scenario: FrameScenario, folder: Path, c_bin: str | None) -> str:
    """Write ``observed.img`` (C noise image) or ``observed.bin`` (nb + Poisson) in ``folder``."""
    if c_bin:
        argv = [c_bin, *scenario.truth, "-seed", "11", "-noisefile", "observed.img", "-nopgm"]
        argv += ["-floatfile", "true_float.bin", "-intfile", "true_int.img"]
        done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the C program failed on {scenario.name}:\n{done.stdout[-2000:]}")
        return "observed.img"
    truth = _experiment(scenario.truth)
    with torch.no_grad():
        image = render(truth.params, truth.static).numpy()
    counts = np.random.default_rng(11).poisson(image).astype(np.float32)
    counts.tofile(folder / "observed.bin")
    return "observed.bin"


def _start_matrix(scenario: FrameScenario, folder: Path) -> None:
    """Write ``start.mat``: the true matrix turned and strained by ``scenario.matrix``."""
    assert scenario.matrix is not None
    truth = _experiment(scenario.truth)
    sim = Simulator(truth, ["cell", "misset"])
    with torch.no_grad():
        cell = sim.values["cell"]
        cell[:3] *= torch.tensor(scenario.matrix[3:], dtype=cell.dtype)
        sim.values["misset"].copy_(torch.tensor(scenario.matrix[:3], dtype=cell.dtype))
    rows = sim.matrix().detach().numpy()
    text = "".join(" ".join(f"{x: .12f}" for x in row) + "\n" for row in rows)
    (folder / "start.mat").write_text(text)


def _truth_values(scenario: FrameScenario) -> tuple[dict[str, float], np.ndarray]:
    truth = _experiment(scenario.truth)
    names = [n for n in scenario.refine if n not in ("misset",)]
    sim = Simulator(truth, names)
    values: dict[str, float] = {}
    for name, value in sim.state().items():
        if isinstance(value, list):
            parts = ("a", "b", "c", "alpha", "beta", "gamma")
            values.update({f"{name}.{p}": v for p, v in zip(parts, value, strict=False)})
        else:
            values[name] = value
    return values, sim.matrix().detach().numpy()


def run_frame(scenario: FrameScenario, data: Path, *, c_bin: str | None = None) -> FrameResult:
    """Make the frame, refine the start through ``nb refine`` and compare with the truth.

    Args:
        scenario: The scenario.
        data: Folder holding A.mat and scaled.hkl (``../shared/data``).
        c_bin: C binary for the observed frame (default ``NB_C_BIN``; nb's render without).

    Returns:
        The result.
    """
    import time

    c_bin = c_bin or os.environ.get("NB_C_BIN")
    with tempfile.TemporaryDirectory(prefix=f"nb-frame-{scenario.name}-") as scratch:
        folder = Path(scratch)
        for name in ("A.mat", "scaled.hkl"):
            (folder / name).symlink_to((data / name).resolve())
        here = Path.cwd()
        os.chdir(folder)
        try:
            observed = _make_observed(scenario, folder, c_bin)
            start = list(scenario.truth)
            if scenario.matrix is not None:
                _start_matrix(scenario, folder)
                start[start.index("A.mat")] = "start.mat"
            lines: list[str] = []
            began = time.perf_counter()
            fit = refine_command(observed, ",".join(scenario.refine), [*start, *scenario.start],
                                 json_out="fit.json", write_mat="refined.mat", say=lines.append)  # fmt: skip
            wall = time.perf_counter() - began
            truth, true_matrix = _truth_values(scenario)
            refined_matrix = read_matrix("refined.mat")
        finally:
            os.chdir(here)
    return _judge(scenario, fit, truth, true_matrix, refined_matrix, c_bin, wall)


def _judge(
    scenario: FrameScenario,
    fit: FitResult,
    truth: dict[str, float],
    true_matrix: np.ndarray,
    refined_matrix: np.ndarray,
    c_bin: str | None,
    wall: float,
) -> FrameResult:
    result = FrameResult(scenario, fit, source="C program" if c_bin else "nb", wall=wall)
    rows = {label: (value, sigma) for label, _, value, sigma, _ in fit.rows()}
    for label, expected in truth.items():
        if label in rows:
            result.truth[label] = expected
            result.errors[label] = rows[label][0] - expected
            result.sigmas[label] = rows[label][1]
    # read_matrix gives rows a*, b*, c*; the -mat layout has them as columns.
    turn = orientation_error(refined_matrix.T, true_matrix)
    for axis, value in zip("xyz", turn, strict=True):
        label = f"orientation.{axis}"
        result.truth[label] = 0.0
        result.errors[label] = float(value)
        sigma = rows.get(f"misset.{axis}", (0.0, math.nan))[1]
        result.sigmas[label] = sigma
    result.passed = all(
        abs(error) <= tolerance_of(scenario, label)
        and abs(error) <= 3 * result.sigmas[label] + 1e-12
        for label, error in result.errors.items()
    )
    return result


def tolerance_of(scenario: FrameScenario, label: str) -> float:
    name = label.split(".")[0]
    if label.startswith("cell.") and label.split(".")[1] in ("alpha", "beta", "gamma"):
        return scenario.tolerance.get("cell_angle", scenario.tolerance.get("cell", math.inf))
    return scenario.tolerance.get(name, math.inf)
