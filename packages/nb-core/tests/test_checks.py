"""Physical sense: check_settings, the matrix and source checks, check_image_finite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nb_core import Settings, resolve
from nb_core.checks import check_image_finite, check_settings
from nb_core.errors import InputError
from nb_core.images import image_statistics, int_image, pgm_image
from nb_core.io import read_matrix, read_sourcefile
from nb_core.resolve import Inputs

SHARED = Path(__file__).resolve().parents[3].parent / "shared"


def cubic(*given: str, **changes: object) -> Settings:
    """A valid 50 x 60 x 70 Å crystal on a 16 x 16 detector, with ``changes`` applied."""
    s = Settings()
    s.cell = (50.0, 60.0, 70.0, 90.0, 90.0, 90.0)
    s.user_cell = True
    s.default_F = 100.0
    s.detpixels = (16, 16)
    s.n_cells = (2.0, 2.0, 2.0)
    s.given = ["-cell", "-default_F", "-detpixels", "-N", *given]
    for k, v in changes.items():
        setattr(s, k, v)
    return s


def refused(settings: Settings, inputs: Inputs | None = None) -> str:
    with pytest.raises(InputError) as info:
        check_settings(settings, inputs)
    return str(info.value)


def test_valid_settings_pass() -> None:
    check_settings(cubic())
    check_settings(cubic(close_distance_mm=90.0, distance_mm=0.5, water_um=0.0, fluence=0.0))
    # A zero -odet_vector means "build it from fdet x sdet", as in the C program.
    check_settings(cubic("-odet_vector", convention="custom", odet_vector=(0.0, 0.0, 0.0)))


@pytest.mark.parametrize(
    ("flag", "changes", "fragment"),
    [
        ("-lambda", {"lambda_A": 0.0}, "positive number of Å, got 0"),
        ("-lambda", {"lambda_A": -0.0}, "got -0"),
        ("-lambda", {"lambda_A": -1.0}, "got -1"),
        ("-distance", {"distance_mm": 0.0}, "positive number of mm, got 0"),
        ("-distance", {"distance_mm": -100.0}, "got -100"),
        ("-pixel", {"pixel_mm": 0.0}, "positive number of mm, got 0"),
        ("-close_distance", {"close_distance_mm": 0.0}, "positive number of mm"),
        ("-water", {"water_um": -1.0}, "zero or more µm, got -1"),
        ("-flux", {"flux": -1e12}, "zero or more photons/s"),
        ("-fluence", {"fluence": -1.0}, "zero or more photons/m^2"),
        ("-beamsize", {"beamsize_mm": 0.0}, "positive number of mm, got 0"),
        ("-exposure", {"exposure_s": 0.0}, "positive number of seconds"),
        ("-mosaic", {"mosaic_deg": -1.0}, "zero or more degrees"),
        ("-dispersion", {"dispersion_pct": 200.0}, "below 200 percent"),
        ("-dispersion", {"dispersion_pct": -1.0}, "got -1"),
        ("-hdivstep", {"hdivstep_mrad": -0.1}, "zero or more mrad"),
        ("-detector_thick", {"detector_thick_um": -5.0}, "zero or more µm"),
        ("-detector_absorb", {"detector_attenuation_um": -5.0}, "'inf' or 0"),
        ("-osc", {"osc_deg": 0.0, "phistep_deg": 1.0}, "no phi steps"),
        ("-cell", {"cell": (50.0, 60.0, 1e30, 90.0, 90.0, 90.0)}, "from 0.01 to 1e+07 Å"),
        ("-cell", {"cell": (1e-3, 60.0, 70.0, 90.0, 90.0, 90.0)}, "got 0.001 60 70"),
        ("-cell", {"cell": (50.0, -60.0, 70.0, 90.0, 90.0, 90.0)}, "must be positive"),
        ("-cell", {"cell": (50.0, 60.0, 70.0, 90.0, 90.0, 180.0)}, "between 0 and 180"),
        ("-cell", {"cell": (50.0, 60.0, 70.0, 30.0, 30.0, 90.0)}, "close no cell"),
        ("-cell", {"cell": (50.0, 60.0, 70.0, 120.0, 120.0, 120.0)}, "close no cell"),
    ],
)
def test_non_physical_values_are_refused(
    flag: str, changes: dict[str, object], fragment: str
) -> None:
    message = refused(cubic(flag, **changes))
    assert message.startswith(f"{flag}: "), message
    assert fragment in message


def test_divergence_names_the_flag_that_set_it() -> None:
    s = cubic("-divergence", hdivrange_mrad=-1.0, vdivrange_mrad=-1.0)
    assert refused(s).startswith("-divergence: must be zero or more mrad, got -1")


def test_energy_and_header_values_name_their_source() -> None:
    # -energy 0 leaves an infinite wavelength; the message speaks of the energy.
    message = refused(cubic("-energy", lambda_A=float("inf")))
    assert message == "-energy: must be a positive photon energy in eV, got 0"
    # A value from an SMV header (no flag given) names the header file and its key.
    assert refused(cubic(img_file="hdr.img", lambda_A=0.0)).startswith(
        "hdr.img (WAVELENGTH): must be a positive number of Å"
    )
    assert refused(cubic(mask_file="m.img", pixel_mm=-0.1)).startswith("m.img (PIXEL_SIZE): ")
    # A later flag overrides the header, and is named.
    assert refused(cubic("-distance", img_file="hdr.img", distance_mm=0.0)).startswith(
        "-distance: "
    )


@pytest.mark.parametrize(
    ("flag", "vector"),
    [
        ("-beam_vector", (0.0, 0.0, 0.0)),
        ("-fdet_vector", (0.0, 0.0, 0.0)),
        ("-sdet_vector", (0.0, 0.0, 0.0)),
        ("-polar_vector", (0.0, 0.0, 0.0)),
        ("-spindle_axis", (0.0, 0.0, 0.0)),
        ("-twotheta_axis", (0.0, 0.0, 0.0)),
        ("-beam_vector", (1e-300, 0.0, 0.0)),  # its square underflows: no direction
        ("-fdet_vector", (0.0, 1e300, 0.0)),  # its square overflows
    ],
)
def test_zero_custom_vectors_are_refused(flag: str, vector: tuple[float, float, float]) -> None:
    field = {
        "-beam_vector": "beam_vector",
        "-fdet_vector": "fdet_vector",
        "-sdet_vector": "sdet_vector",
        "-polar_vector": "polar_vector",
        "-spindle_axis": "spindle_axis",
        "-twotheta_axis": "twotheta_axis",
    }[flag]
    message = refused(cubic(flag, convention="custom", **{field: vector}))
    assert message.startswith(f"{flag}: the vector ")
    assert "expected a non-zero vector" in message


def test_vectors_of_another_convention_are_not_checked() -> None:
    # -beam_vector 0 0 0 followed by -mosflm: the convention's own vectors are used.
    check_settings(cubic("-beam_vector", "-mosflm", beam_vector=(0.0, 0.0, 0.0)))


def test_parallel_detector_axes_are_refused() -> None:
    s = cubic(
        "-fdet_vector",
        "-sdet_vector",
        convention="custom",
        fdet_vector=(0.0, 1.0, 0.0),
        sdet_vector=(0.0, -2.0, 0.0),
    )
    assert refused(s).startswith("-sdet_vector: the fast and slow detector axes are parallel")


def test_beam_parallel_to_the_detector_plane() -> None:
    # MOSFLM: the normal is +x; rotated 90 degrees about y it is perpendicular to the beam.
    message = refused(cubic("-detector_roty", detector_rot_deg=(0.0, 90.0, 0.0)))
    assert message.startswith("-detector_roty: the beam runs parallel to the detector plane")
    assert "cosine 6.12e-17" in message
    custom = cubic("-beam_vector", convention="custom", beam_vector=(0.0, 1.0, 0.0))
    assert refused(custom).startswith("-beam_vector: ")
    # Placed by its close distance, a detector parallel to the beam is a real geometry.
    check_settings(cubic("-beam_vector", convention="custom", beam_vector=(0.0, 1.0, 0.0),
                         close_distance_mm=100.0))  # fmt: skip
    check_settings(cubic("-detector_roty", detector_rot_deg=(0.0, 89.0, 0.0)))


def _matrix_message(tmp_path: Path, text: str, lambda_a: float = 1.0) -> str:
    path = tmp_path / "A.mat"
    path.write_text(text)
    settings = cubic("-mat", matrix_file=str(path), user_cell=False, lambda_A=lambda_a)
    settings.cell = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    message = refused(settings, Inputs(matrix=read_matrix(path)))
    assert message.startswith(f"{path}: "), message
    return message.removeprefix(f"{path}: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0 0 0\n0 0 0\n0 0 0\n", "the matrix is zero; expected three independent"),
        ("0.01 0 0\n0 0.01 0\n0 0 0\n", "the c* vector is zero (determinant 0)"),
        (
            "0.01 0.02 0.03\n0.02 0.04 0.06\n0 0 0.01\n",
            "the matrix is singular (determinant 0); expected three independent reciprocal "
            "vectors a*, b*, c*",
        ),
        ("1 2 3\n4 5 6\n7 8 9\n", "the matrix is singular"),
        ("1e300 0 0\n0 1e300 0\n0 0 1e300\n", "cell edges 1e-300 1e-300 1e-300 Å at 1 Å"),
        ("1e-300 0 0\n0 1e-300 0\n0 0 1e-300\n", "cell edges 1e+300 1e+300 1e+300 Å"),
        ("5e-324 0 0\n0 0.01 0\n0 0 0.01\n", "cell edges inf 100 100 Å"),
        ("1e-8 0 0\n0 0.01 0\n0 0 0.01\n", "cell edges 1e+08 100 100 Å"),
    ],
)
def test_matrices_that_give_no_cell_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _matrix_message(tmp_path, text)


def test_matrix_cell_lengths_use_the_wavelength(tmp_path: Path) -> None:
    # Rows a*, b*, c* times lambda: 0.02 at 2 Å is a* = 0.01 1/Å, a = 100 Å; 2e-9 at 2 Å is
    # c* = 1e-9 1/Å, c = 1e9 Å (too long).
    message = _matrix_message(tmp_path, "0.02 0 0\n0 0.04 0\n0 0 2e-9\n", lambda_a=2.0)
    assert "cell edges 100 50 1e+09 Å at 2 Å" in message
    good = cubic("-mat", matrix_file="A.mat", user_cell=False)
    check_settings(good, Inputs(matrix=np.diag([0.02, 0.04, 0.05])))


def test_real_matrix_passes() -> None:
    path = SHARED / "data" / "A.mat"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    settings = cubic("-mat", matrix_file=str(path), user_cell=False)
    check_settings(settings, Inputs(matrix=read_matrix(path)))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("-10 0 0 1 0", "lambda must be a positive wavelength in metres (e.g. 1e-10), got 0"),
        ("-10 0 0 1 -1e-10", "lambda must be a positive wavelength in metres (e.g. 1e-10), got -1e-10"),
        ("-10 0 0 1 1e-400", "lambda must be a positive wavelength in metres (e.g. 1e-10), got 0"),
        ("-10 0 0 -1 1e-10", "I must be zero or more, got -1"),
        ("0 0 0 1 1e-10", "the source is at the sample (0 0 0); expected X Y Z (m) pointing from the sample toward the source"),
    ],
)  # fmt: skip
def test_sources_that_make_no_sense(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "sources.txt"
    path.write_text(f"-10 0.01 0 1 1e-10\n{line}\n")
    with pytest.raises(InputError) as info:
        read_sourcefile(path, np.array([1.0, 0.0, 0.0]), 1e-10)
    assert str(info.value) == f"{path} line 2: {expected}"


def test_sources_given_in_memory_are_checked() -> None:
    from nb_core.io import SourceTable

    table = SourceTable(
        positions=np.array([[-10.0, 0.0, 0.0]]),
        intensities=np.array([1.0]),
        wavelengths=np.array([0.0]),
    )
    message = refused(cubic("-sourcefile", source_file="s.txt"), Inputs(sources=table))
    assert message == "s.txt: source 1 has wavelength 0 m; expected a positive wavelength"


def test_resolve_checks_the_settings_first() -> None:
    with pytest.raises(InputError, match=r"^-lambda: must be a positive number of Å, got 0$"):
        resolve(cubic("-lambda", lambda_A=0.0))


def test_mask_of_another_size_is_refused() -> None:
    mask = np.ones((16, 16), dtype=bool)
    settings = cubic(mask_file="mask.img", detpixels=(32, 24))
    with pytest.raises(InputError) as info:
        resolve(settings, Inputs(mask=mask))
    assert str(info.value).startswith(
        "mask.img: the mask is 16 x 16 pixels but the detector is 32 x 24 (fast x slow)"
    )
    exp = resolve(cubic(mask_file="mask.img"), Inputs(mask=mask))
    assert exp.params.mask is not None
    assert tuple(exp.params.mask.shape) == (16, 16)


def test_finite_image_passes() -> None:
    check_image_finite(np.full((4, 4), 3.0e38, dtype=np.float32), cubic())


@pytest.mark.parametrize(
    ("flag", "changes"),
    [
        ("-default_F", {"default_F": 1e30}),
        ("-distance", {"distance_mm": 1e308}),
        ("-close_distance", {"close_distance_mm": 1e308}),
        ("-misset", {"misset_deg": (1e300, 0.0, 0.0)}),
        ("-water", {"water_um": 1e12}),
        ("-flux", {"flux": 1e12, "beamsize_mm": 1e-300}),
        ("-fluence", {"fluence": 1e300}),
        ("-cell", {"cell": (1e6, 1e6, 1e6, 90.0, 90.0, 90.0)}),
        ("-N", {"n_cells": (2e9, 2.0, 2.0)}),
    ],
)
def test_non_finite_image_names_the_likely_flag(flag: str, changes: dict[str, object]) -> None:
    image = np.ones((4, 4), dtype=np.float32)
    image[0, :3] = np.nan
    image[1, 1] = np.inf
    with pytest.raises(InputError) as info:
        check_image_finite(image, cubic(**changes))
    message = str(info.value)
    assert message.startswith(
        f"{flag}: the simulated image has 3 NaN and 1 infinite pixels of 16 "
        "(the arithmetic overflows); the value is far outside the usual range: "
    ), message


def test_non_finite_image_without_a_suspect() -> None:
    image = np.full((2, 3), np.nan, dtype=np.float32)
    with pytest.raises(InputError) as info:
        check_image_finite(image, cubic(hkl_file="big.hkl"))
    assert str(info.value) == (
        "big.hkl: the simulated image has 6 NaN and 0 infinite pixels of 6 (the arithmetic "
        "overflows); check the magnitudes of the settings and of big.hkl"
    )
    with pytest.raises(InputError, match=r"^the simulated image has 6 NaN"):
        check_image_finite(image, cubic())


def test_image_products_stay_quiet_on_extreme_pixels() -> None:
    # pytest turns RuntimeWarnings into errors: none may escape for NaN, inf or huge scales.
    image = np.array([[np.nan, np.inf], [1.0, 3e38]], dtype=np.float32)
    roi = (0, 1, 0, 1)
    stats = image_statistics(image, roi, None, 1e-4, 1)
    assert np.isnan(stats.mean)
    finite = np.array([[0.0, 1.0], [2.0, 3e38]], dtype=np.float32)
    assert int_image(finite, 1e300, 40.0, roi).tolist() == [[40, 65535], [65535, 65535]]
    assert pgm_image(finite, 1e300, roi).tolist() == [[0, 255], [255, 255]]
    stats = image_statistics(finite, roi, None, 1e-4, 1)
    assert stats.max_I == pytest.approx(3e38, rel=1e-6)
