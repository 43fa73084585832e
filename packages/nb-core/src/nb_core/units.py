"""Physical constants and unit conversions used by nb.

nb works internally in the C program's units: metres for every length (pixel size, distance,
wavelength, cell vectors), radians for every angle, photons/m^2 for fluence. User-facing
values (flags, reports) use the C program's flag units: mm, Å, degrees, mrad, µm, eV, percent.
"""

from __future__ import annotations

import math

#: Thomson cross section r_e^2 in m^2, as the C program uses it.
R_E_SQR = 7.94079248018965e-30
#: Avogadro's number (1/mol), as the C program uses it.
AVOGADRO = 6.02214179e23
#: Degrees per radian, computed as the C program does (180 * M_1_PI).
RTD = 180.0 * (1.0 / math.pi)
#: h*c in eV*Å, as the C program uses it for -energy.
HC_EV_ANGSTROM = 12398.42
#: Default fluence of the C program in photons/m^2.
DEFAULT_FLUENCE = 125932015286227086360700780544.0
#: Smallest positive normal double (C's DBL_MIN).
DBL_MIN = 2.2250738585072014e-308

MM = 1e-3
UM = 1e-6
ANGSTROM = 1e-10
MRAD = 1e-3


def deg_to_rad(value: float) -> float:
    """Degrees to radians, rounding exactly as the C program (value / RTD)."""
    return value / RTD


def rad_to_deg(value: float) -> float:
    """Radians to degrees (value * RTD)."""
    return value * RTD


def energy_ev_to_wavelength_m(energy_ev: float) -> float:
    """Photon energy in eV to wavelength in m, as the C program's -energy flag."""
    return (HC_EV_ANGSTROM / energy_ev) / 1.0e10
