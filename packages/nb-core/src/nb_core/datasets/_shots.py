"""What varies from one still to the next: a random orientation, and optionally more.

Every draw of a shot comes from its own stream, seeded by the data set's seed and the shot's
number only (numpy's PCG64 under a ``SeedSequence``), so a shot is the same whichever machine
or worker renders it, in whatever order, and switching one variation on changes no other
draw. Orientations are uniform over SO(3) (Shoemake's unit quaternion of three uniform
numbers), given as the missetting angles that ``-misset`` takes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nb_core.crystal.orientation import rotation_from_uniforms, umat2misset
from nb_core.errors import InputError
from nb_core.io._atomic import is_decimal, read_input_text, show
from nb_core.units import RTD

__all__ = [
    "ShotParameters",
    "ShotVariation",
    "Spectrum",
    "read_spectrum",
    "shot_parameters",
    "shot_rotation",
]

Vec3 = tuple[float, float, float]

#: The stream of each kind of draw (the third word of a shot's seed sequence).
_ORIENTATION, _MOSAIC, _CELLS, _FLUX, _WAVELENGTH = range(5)


@dataclass(frozen=True)
class Spectrum:
    """A beam spectrum: wavelengths and their relative weights.

    Attributes:
        wavelengths: Wavelengths (Å).
        weights: Relative weights (>= 0, at least one > 0).
    """

    wavelengths: tuple[float, ...]
    weights: tuple[float, ...]


@dataclass(frozen=True)
class ShotVariation:
    """Per-shot variation of a stills data set beyond the orientation.

    Attributes:
        mosaic_deg: Mosaic spread drawn uniformly from this ``(low, high)`` range (deg);
            None keeps the flags' value.
        n_cells: Unit cells along each axis (``-N``) drawn uniformly from the integers of this
            inclusive ``(low, high)`` range; None keeps the flags' value.
        flux_sigma: Log-normal spread of the flux (or fluence): each shot's is the flags'
            value times ``exp(sigma z - sigma^2 / 2)`` with z standard normal (mean factor 1);
            0 keeps it.
        spectrum: Each shot's wavelength drawn from these weighted wavelengths; None keeps
            the flags' value.
    """

    mosaic_deg: tuple[float, float] | None = None
    n_cells: tuple[int, int] | None = None
    flux_sigma: float = 0.0
    spectrum: Spectrum | None = None


@dataclass(frozen=True)
class ShotParameters:
    """What one still draws.

    Attributes:
        number: The shot's number.
        misset_deg: Missetting rotations about x, y, z (deg) of its orientation.
        mosaic_deg: Its mosaic spread (deg), or None (the flags' value).
        n_cells: Its unit cells along each axis, or None.
        flux_factor: Its flux (or fluence) relative to the flags' value, or None.
        lambda_A: Its wavelength (Å), or None.
    """

    number: int
    misset_deg: Vec3
    mosaic_deg: float | None = None
    n_cells: int | None = None
    flux_factor: float | None = None
    lambda_A: float | None = None


def _stream(seed: int, number: int, kind: int) -> np.random.Generator:
    """The generator of one kind of draw of one shot."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, number, kind])))


def shot_rotation(seed: int, number: int) -> np.ndarray:
    """The orientation of shot ``number``: a rotation uniform over SO(3).

    Args:
        seed: The data set's seed (>= 0).
        number: The shot's number (>= 0).

    Returns:
        ``(3, 3)`` float64 rotation ``U`` (``new = U @ old``).
    """
    u1, u2, u3 = (float(u) for u in _stream(seed, number, _ORIENTATION).random(3))
    return rotation_from_uniforms(u1, u2, u3)


def _misset_deg(rotation: np.ndarray) -> Vec3:
    """Missetting angles (deg) whose rotation is ``rotation``."""
    x, y, z = (float(v) * RTD for v in umat2misset(rotation))
    return (x, y, z)


def shot_parameters(seed: int, number: int, variation: ShotVariation) -> ShotParameters:
    """Everything shot ``number`` draws.

    Args:
        seed: The data set's seed (>= 0).
        number: The shot's number (>= 0).
        variation: What varies besides the orientation.

    Returns:
        The shot's orientation and variations.
    """
    if seed < 0 or number < 0:
        raise ValueError(f"seed and shot number must be >= 0, got {seed} and {number}")
    mosaic = n_cells = flux = wavelength = None
    if variation.mosaic_deg is not None:
        low, high = variation.mosaic_deg
        mosaic = float(_stream(seed, number, _MOSAIC).uniform(low, high))
    if variation.n_cells is not None:
        low_n, high_n = variation.n_cells
        n_cells = int(_stream(seed, number, _CELLS).integers(low_n, high_n, endpoint=True))
    if variation.flux_sigma > 0.0:
        sigma = variation.flux_sigma
        z = float(_stream(seed, number, _FLUX).standard_normal())
        flux = math.exp(sigma * z - 0.5 * sigma * sigma)
    if variation.spectrum is not None:
        weights = np.asarray(variation.spectrum.weights, dtype=np.float64)
        pick = _stream(seed, number, _WAVELENGTH).choice(len(weights), p=weights / weights.sum())
        wavelength = variation.spectrum.wavelengths[int(pick)]
    return ShotParameters(
        number=number,
        misset_deg=_misset_deg(shot_rotation(seed, number)),
        mosaic_deg=mosaic,
        n_cells=n_cells,
        flux_factor=flux,
        lambda_A=wavelength,
    )


def read_spectrum(path: str | Path) -> Spectrum:
    """Read a spectrum file: one ``wavelength(Å) weight`` pair per line.

    Blank lines and text after ``#`` are ignored.

    Args:
        path: The file.

    Returns:
        The spectrum.

    Raises:
        InputError: The file cannot be read, a line is not two numbers, a wavelength is not
            positive, a weight is negative, or no weight is positive.
    """
    wavelengths: list[float] = []
    weights: list[float] = []
    for number, line in enumerate(read_input_text(path, kind="spectrum file"), start=1):
        body = line.split("#", 1)[0].strip(" \t\r\v\f")
        if not body:
            continue
        tokens = body.split()
        if len(tokens) != 2 or not all(is_decimal(t) for t in tokens):
            raise InputError(
                f"line {number}: expected 'wavelength(A) weight', got {show(body)}", path
            )
        wavelength, weight = float(tokens[0]), float(tokens[1])
        if not (math.isfinite(wavelength) and wavelength > 0.0):
            raise InputError(f"line {number}: wavelength {tokens[0]} must be positive (A)", path)
        if not (math.isfinite(weight) and weight >= 0.0):
            raise InputError(f"line {number}: weight {tokens[1]} must be >= 0", path)
        wavelengths.append(wavelength)
        weights.append(weight)
    if not any(w > 0.0 for w in weights):
        raise InputError("no wavelength with a positive weight", path)
    return Spectrum(wavelengths=tuple(wavelengths), weights=tuple(weights))
