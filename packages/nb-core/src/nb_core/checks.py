"""Checks of physical sense: settings and input data before resolving, images after rendering.

The C program accepts any number it can read and simulates whatever follows from it: a zero
wavelength or distance, a singular orientation matrix or a zero beam vector give it an image
of NaNs or zeros. nb refuses such input with one line naming the flag or file (an
:class:`~nb_core.errors.InputError`). The rule for which check catches what:

* :func:`check_settings`, before anything is resolved, refuses values that make no physical
  sense whatever the other settings are: a zero, negative or non-finite wavelength (``-lambda``,
  ``-energy``, an SMV header's ``WAVELENGTH``), distance, close distance or pixel size; a
  negative ``-water``, ``-flux``, ``-fluence``, ``-mosaic``, ``-detector_thick``,
  ``-detector_abs``, divergence or dispersion, a dispersion of 200 % or more (non-positive
  wavelengths), a zero or negative ``-beamsize`` or ``-exposure``; a zero or unnormalisable
  custom vector (beam, fast and slow axes, polarization, spindle and two-theta axes; a zero
  ``-odet_vector`` keeps its C meaning, "generate it from the fast and slow axes"), parallel
  fast and slow axes, and a beam parallel to the detector plane without ``-close_distance``
  (the plane would pass through the sample); ``-osc 0`` with ``-phistep`` (no phi steps);
  a cell with a negative length, an angle outside (0, 180) degrees or angles that close no
  cell, a cell length outside :data:`CELL_RANGE_A`; an orientation matrix that is not finite,
  has a zero row, is singular (relative determinant below :data:`MIN_RELATIVE_DETERMINANT`)
  or gives a cell outside :data:`CELL_RANGE_A`; sources with a non-positive wavelength.
* :func:`check_image_finite`, after rendering, catches values that are physically possible
  but too large (or small) for the arithmetic: a huge ``-default_F``, ``-distance``,
  ``-water``, ``-flux``/``-beamsize``, ``-misset``... overflow the float32 image to infinity
  or NaN. Whether they do depends on the dtype and on the other settings, so they are judged
  by their result; the message names the most likely flag.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from nb_core.errors import InputError
from nb_core.units import DEFAULT_FLUENCE, HC_EV_ANGSTROM

if TYPE_CHECKING:
    from nb_core.resolve import Inputs
    from nb_core.settings import Settings

__all__ = [
    "CELL_RANGE_A",
    "MIN_BEAM_COSINE",
    "MIN_RELATIVE_DETERMINANT",
    "check_image_finite",
    "check_settings",
]

#: Shortest and longest unit-cell edge accepted (Å): 0.01 Å to 1 mm.
CELL_RANGE_A = (1e-2, 1e7)
#: Smallest |determinant| of the matrix of unit-length reciprocal vectors (a sine of the
#: angles between them, 1 for orthogonal vectors).
MIN_RELATIVE_DETERMINANT = 1e-6
#: Smallest |cosine| between the beam and the detector normal without ``-close_distance``.
MIN_BEAM_COSINE = 1e-6

_WAVELENGTH_FLAGS = ("-lambda", "-energy")
_DISTANCE_FLAGS = ("-distance",)
_HEADER_VALUES = {"-lambda": "WAVELENGTH", "-distance": "DISTANCE", "-pixel": "PIXEL_SIZE"}


def check_settings(settings: Settings, inputs: Inputs | None = None) -> None:
    """Refuse settings and input data that make no physical sense (see the module docstring).

    Args:
        settings: What the user asked for (flag units: mm, Å, degrees, µm, mrad, percent).
        inputs: Data read from the files the settings name (the matrix and sources are
            checked), if any.

    Raises:
        InputError: A value makes no physical sense; the message names the flag or file, says
            what is wrong and what would be valid.
    """
    _check_wavelength(settings)
    _check_detector(settings)
    _check_beam(settings)
    _check_crystal(settings)
    _check_vectors(settings)
    if inputs is not None and inputs.matrix is not None:
        _check_matrix(inputs.matrix, settings.matrix_file or "-mat", settings.lambda_A)
    if inputs is not None and inputs.sources is not None:
        wavelengths = np.asarray(inputs.sources.wavelengths, dtype=np.float64)
        bad = ~(np.isfinite(wavelengths) & (wavelengths > 0.0))
        if bad.any():
            value = float(wavelengths[np.argmax(bad)])
            raise InputError(
                f"source {int(np.argmax(bad)) + 1} has wavelength {value:g} m; "
                "expected a positive wavelength",
                settings.source_file or "-sourcefile",
            )


def _origin(settings: Settings, flags: Sequence[str]) -> str:
    """The flag (or SMV header file) that set a value: the last of ``flags`` given, else the
    ``-img``/``-mask`` file whose header the C program reads first, else ``flags[0]``."""
    given = [flag for flag in settings.given if flag in flags]
    if given:
        return given[-1]
    if flags[0] in _HEADER_VALUES:
        header = settings.img_file or settings.mask_file
        if header is not None:
            return f"{header} ({_HEADER_VALUES[flags[0]]})"
    return flags[0]


def _require(ok: bool, source: str, message: str) -> None:
    if not ok:
        raise InputError(message, source)


def _positive(value: float | None, source: str, unit: str) -> None:
    """Refuse a value that is not a finite number above zero."""
    if value is None:
        return
    _require(
        math.isfinite(value) and value > 0.0,
        source,
        f"must be a positive number of {unit}, got {value:g}",
    )


def _not_negative(value: float | None, source: str, unit: str) -> None:
    if value is None:
        return
    _require(value >= 0.0, source, f"must be zero or more {unit}, got {value:g}")


def _check_wavelength(s: Settings) -> None:
    source = _origin(s, _WAVELENGTH_FLAGS)
    lam = s.lambda_A
    if source == "-energy":
        energy = HC_EV_ANGSTROM / lam if math.isfinite(lam) and lam != 0.0 else 0.0
        _require(
            math.isfinite(lam) and lam > 0.0,
            source,
            f"must be a positive photon energy in eV, got {energy:g}",
        )
    _positive(lam, source, "Å")
    dispersion = s.dispersion_pct
    _require(
        0.0 <= dispersion < 200.0,
        "-dispersion",
        f"must be from 0 to below 200 percent (a spread of 200 % or more reaches zero "
        f"wavelength), got {dispersion:g}",
    )
    for flag, value in (
        ("-hdivrange", s.hdivrange_mrad),
        ("-vdivrange", s.vdivrange_mrad),
        ("-hdivstep", s.hdivstep_mrad),
        ("-vdivstep", s.vdivstep_mrad),
    ):
        by_divergence = flag.endswith("range") and flag not in s.given
        _not_negative(value, "-divergence" if by_divergence else flag, "mrad")


def _check_detector(s: Settings) -> None:
    _positive(s.pixel_mm, _origin(s, ("-pixel",)), "mm")
    _positive(s.distance_mm, _origin(s, _DISTANCE_FLAGS), "mm")
    if s.close_distance_mm is not None:
        header = s.img_file or s.mask_file
        flag = "-close_distance"
        source = flag if flag in s.given or header is None else f"{header} (CLOSE_DISTANCE)"
        _positive(s.close_distance_mm, source, "mm")
    _not_negative(s.detector_thick_um, "-detector_thick", "µm")
    att = s.detector_attenuation_um
    if att is not None and not math.isinf(att):
        _not_negative(att, "-detector_absorb", "µm ('inf' or 0: no absorption)")


def _check_beam(s: Settings) -> None:
    _not_negative(s.fluence, "-fluence", "photons/m^2")
    _not_negative(s.flux, "-flux", "photons/s")
    _positive(s.exposure_s, "-exposure", "seconds")
    _positive(s.beamsize_mm, "-beamsize", "mm")
    _not_negative(s.water_um, "-water", "µm")
    if s.mosaic_deg is not None and not math.isnan(s.mosaic_deg):
        _not_negative(s.mosaic_deg, "-mosaic", "degrees")
    no_steps = (
        s.phisteps < 0 and s.osc_deg == 0.0 and s.phistep_deg is not None and s.phistep_deg > 0.0
    )
    _require(
        not no_steps,
        "-osc",
        "an oscillation of 0 with -phistep gives no phi steps; give -osc above 0 degrees, "
        "-phisteps, or no -phistep",
    )


def _check_crystal(s: Settings) -> None:
    if not s.user_cell:
        return
    a, b, c, alpha, beta, gamma = s.cell
    _require(
        a >= 0.0 and b >= 0.0 and c >= 0.0,
        "-cell",
        f"lengths must be positive Å (0 for b or c means 'same as a'), got {a:g} {b:g} {c:g}",
    )
    if a == 0.0:
        return  # resolve reports the missing crystal
    lengths = (a, b if b > 0.0 else a, c if c > 0.0 else a)
    lo, hi = CELL_RANGE_A
    _require(
        all(lo <= x <= hi for x in lengths),
        "-cell",
        f"lengths must be from {lo:g} to {hi:g} Å, got {a:g} {b:g} {c:g}",
    )
    angles = [x if x > 0.0 else 90.0 for x in (alpha, beta, gamma)]
    _require(
        all(x < 180.0 for x in angles) and min(alpha, beta, gamma) >= 0.0,
        "-cell",
        f"angles must be between 0 and 180 degrees (0 means 90), got {alpha:g} {beta:g} {gamma:g}",
    )
    ca, cb, cg = (math.cos(math.radians(x)) for x in angles)
    squared = 1.0 - ca * ca - cb * cb - cg * cg + 2.0 * ca * cb * cg
    _require(
        squared > MIN_RELATIVE_DETERMINANT**2,
        "-cell",
        f"the angles {alpha:g} {beta:g} {gamma:g} close no cell (zero volume); each angle "
        "must be less than the sum of the other two, and all three less than 360 degrees",
    )


def _norm(v: np.ndarray) -> float:
    """Length of a vector without underflow or overflow in the squares."""
    scale = float(np.max(np.abs(v)))
    if scale == 0.0 or not math.isfinite(scale):
        return scale
    return scale * float(np.sqrt(np.sum((v / scale) ** 2)))


def _check_matrix(matrix: np.ndarray, source: str, lambda_a: float) -> None:
    """Refuse an orientation matrix (rows a*, b*, c* times the wavelength) that gives no cell."""
    m = np.asarray(matrix, dtype=np.float64).reshape(3, 3)
    _require(bool(np.isfinite(m).all()), source, "the matrix holds a non-finite number; expected 9")
    norms = [_norm(row) for row in m]
    if max(norms) == 0.0:
        raise InputError(
            "the matrix is zero; expected three independent reciprocal vectors a*, b*, c*",
            source,
        )
    with np.errstate(all="ignore"):
        raw_det = float(np.linalg.det(m))
        for name, norm in zip(("a*", "b*", "c*"), norms, strict=True):
            _require(
                norm > 0.0,
                source,
                f"the {name} vector is zero (determinant 0); expected three independent "
                "reciprocal vectors a*, b*, c*",
            )
        unit = m / np.asarray(norms)[:, None]
        relative = float(np.linalg.det(unit))
        _require(
            abs(relative) >= MIN_RELATIVE_DETERMINANT,
            source,
            f"the matrix is singular (determinant {raw_det:.3g}); expected three independent "
            "reciprocal vectors a*, b*, c*",
        )
        # Real a, b, c (Å) are the columns of inv(M / lambda) = lambda * inv(unit) / norms.
        inverse = np.linalg.inv(unit)
        lengths = [abs(lambda_a) * _norm(inverse[:, j]) / norms[j] for j in range(3)]
    lo, hi = CELL_RANGE_A
    _require(
        all(lo <= x <= hi for x in lengths),
        source,
        f"the matrix gives cell edges {lengths[0]:.3g} {lengths[1]:.3g} {lengths[2]:.3g} Å "
        f"at {lambda_a:g} Å; expected edges from {lo:g} to {hi:g} Å (entries are reciprocal "
        "lengths in 1/Å times the wavelength in Å)",
    )


def _check_vectors(s: Settings) -> None:
    """Zero or parallel custom vectors, and a beam parallel to the detector plane."""
    from nb_core.resolve import convention_vectors

    vec = {k: np.asarray(v, dtype=np.float64) for k, v in convention_vectors(s).items()}
    with np.errstate(all="ignore"):  # a vector of 1e300 overflows its squares to inf
        _check_custom_vectors(s, vec)
        _check_beam_cosine(s, vec)


def _check_custom_vectors(s: Settings, vec: dict[str, np.ndarray]) -> None:
    if s.convention != "custom":
        return  # the convention's own vectors are used
    named = (
        ("beam", "-beam_vector"),
        ("fdet", "-fdet_vector"),
        ("sdet", "-sdet_vector"),
        ("polar", "-polar_vector"),
        ("spindle", "-spindle_axis"),
        ("twotheta", "-twotheta_axis"),
    )
    for key, flag in named:
        v = vec[key]
        mag = _magnitude(v)
        _require(
            0.0 < mag < math.inf,
            flag,
            f"the vector {v[0]:g} {v[1]:g} {v[2]:g} has no direction (length {mag:g}); "
            "expected a non-zero vector",
        )
    cross = np.cross(_unit(vec["fdet"]), _unit(vec["sdet"]))
    _require(
        _magnitude(cross) >= MIN_BEAM_COSINE,
        _last_given(s, ("-fdet_vector", "-sdet_vector"), "-sdet_vector"),
        "the fast and slow detector axes are parallel; expected two independent axes",
    )


def _check_beam_cosine(s: Settings, vec: dict[str, np.ndarray]) -> None:
    if s.close_distance_mm is not None:
        return
    odet = _unit(vec["odet"])
    if _magnitude(vec["odet"]) != 1.0:  # the C program then builds it from fdet x sdet
        odet = _unit(np.cross(_unit(vec["fdet"]), _unit(vec["sdet"])))
    rotated = _rotate_xyz(odet, [math.radians(x) for x in s.detector_rot_deg])
    cosine = float(_unit(vec["beam"]) @ rotated)
    flags = ["-detector_rotx", "-detector_roty", "-detector_rotz"]
    if s.convention == "custom":
        flags += ["-beam_vector", "-odet_vector", "-fdet_vector", "-sdet_vector"]
    _require(
        abs(cosine) >= MIN_BEAM_COSINE,
        _last_given(s, flags, "-distance"),
        f"the beam runs parallel to the detector plane (cosine {cosine:.3g} with the "
        "detector normal), so the plane passes through the sample; tilt the detector or "
        "place it with -close_distance (mm)",
    )


def _last_given(s: Settings, flags: Sequence[str], default: str) -> str:
    given = [f for f in s.given if f in flags]
    return given[-1] if given else default


def _magnitude(v: np.ndarray) -> float:
    """Length as the C program's ``magnitude`` computes it (squares may overflow to inf)."""
    x, y, z = (float(t) for t in v)
    return math.sqrt(x * x + y * y + z * z)


def _unit(v: np.ndarray) -> np.ndarray:
    mag = _magnitude(v)
    return v / mag if mag != 0.0 else np.zeros(3)


def _rotate_xyz(v: np.ndarray, angles: Sequence[float]) -> np.ndarray:
    """Rotate about x, then y, then z (rad), as the C program's ``rotate``."""
    x, y, z = (float(t) for t in v)
    cx, sx = math.cos(angles[0]), math.sin(angles[0])
    cy, sy = math.cos(angles[1]), math.sin(angles[1])
    cz, sz = math.cos(angles[2]), math.sin(angles[2])
    y, z = y * cx - z * sx, y * sx + z * cx
    x, z = x * cy + z * sy, -x * sy + z * cy
    x, y = x * cz - y * sz, x * sz + y * cz
    return np.array([x, y, z])


def check_image_finite(image: np.ndarray, settings: Settings) -> None:
    """Refuse an image with NaN or infinite pixels, naming the likely cause.

    Args:
        image: ``(S, F)`` float32 image (photons), as it will be written.
        settings: The settings it was rendered from (to name a suspicious flag).

    Raises:
        InputError: Some pixel is NaN or infinite.
    """
    pixels = np.asarray(image)
    finite = np.isfinite(pixels)
    if bool(finite.all()):
        return
    nan = int(np.isnan(pixels).sum())
    inf = int(pixels.size - finite.sum()) - nan
    counts = (
        f"the simulated image has {nan} NaN and {inf} infinite pixels of {pixels.size} "
        "(the arithmetic overflows)"
    )
    for flag, suspicious, usual in _SUSPECTS:
        if suspicious(settings):
            raise InputError(f"{counts}; the value is far outside the usual range: {usual}", flag)
    files = [f for f in (settings.hkl_file, settings.matrix_file, settings.source_file) if f]
    raise InputError(
        f"{counts}; check the magnitudes of the settings"
        + (f" and of {', '.join(files)}" if files else ""),
        files[0] if files else None,
    )


def _big(values: Sequence[float], limit: float) -> bool:
    return any(abs(v) > limit for v in values)


def _fluence(s: Settings) -> float:
    if s.flux != 0.0 and s.exposure_s > 0.0 and s.beamsize_mm > 0.0:
        size = s.beamsize_mm / 1000.0
        return s.flux * s.exposure_s / size / size
    return s.fluence


_Suspect = tuple[str, Callable[["Settings"], bool], str]
#: A fluence 1e11 times the C program's default (photons/m^2).
_MAX_FLUENCE = 1e11 * DEFAULT_FLUENCE
#: Flags whose magnitude can overflow the image, each with a test and what is usual.
_SUSPECTS: tuple[_Suspect, ...] = (
    ("-default_F", lambda s: abs(s.default_F) > 1e12, "structure factors are below 1e12"),
    (
        "-fluence",
        lambda s: s.flux == 0.0 and s.fluence > _MAX_FLUENCE,
        f"fluences are below {_MAX_FLUENCE:.0e} photons/m^2",
    ),
    (
        "-flux",
        lambda s: s.flux != 0.0 and _fluence(s) > _MAX_FLUENCE,
        f"-flux * -exposure / -beamsize^2 is below {_MAX_FLUENCE:.0e} photons/m^2",
    ),
    ("-water", lambda s: s.water_um > 1e6, "water layers are thinner than 1e6 µm (1 m)"),
    (
        "-close_distance",
        lambda s: (s.close_distance_mm or 0.0) > 1e6,
        "detectors are closer than 1e6 mm (1 km)",
    ),
    ("-distance", lambda s: s.distance_mm > 1e6, "detectors are closer than 1e6 mm (1 km)"),
    ("-cell", lambda s: _big(s.cell[:3], 1e5), "unit-cell edges are below 1e5 Å"),
    ("-N", lambda s: _big(s.n_cells, 1e6), "crystals are below 1e6 cells along an edge"),
    ("-xtalsize", lambda s: _big(s.sample_size_mm, 1e3), "crystals are smaller than 1e3 mm"),
    ("-misset", lambda s: _big(s.misset_deg, 1e6), "angles are within +-360 degrees"),
    (
        "-phi",
        lambda s: _big([s.phi_deg, s.osc_deg or 0.0, s.phistep_deg or 0.0], 1e6),
        "angles are within +-360 degrees",
    ),
    ("-twotheta", lambda s: _big([s.twotheta_deg], 1e6), "angles are within +-360 degrees"),
    (
        "-detector_rotx",
        lambda s: _big(s.detector_rot_deg, 1e6),
        "angles are within +-360 degrees",
    ),
    ("-mosaic", lambda s: (s.mosaic_deg or 0.0) > 1e6, "mosaic spreads are a few degrees"),
    ("-pixel", lambda s: s.pixel_mm > 1e3, "pixels are smaller than 1e3 mm"),
    ("-detector_thick", lambda s: s.detector_thick_um > 1e6, "sensors are thinner than 1 m"),
    ("-polar", lambda s: abs(s.polarization) > 1.0, "the Kahn factor is from -1 to 1"),
    ("-lambda", lambda s: not 1e-6 < s.lambda_A < 1e6, "wavelengths are 1e-6 to 1e6 Å"),
)
