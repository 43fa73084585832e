"""Step counts: spindle, divergence, dispersion, sensor layers, mosaic domains, oversampling."""

from __future__ import annotations

import math

from nb_core.resolve._report import OversampleReport, Resolved, SamplingReport, float64_tensor
from nb_core.settings import Settings
from nb_core.units import RTD

__all__ = ["resolve_oversampling", "resolve_sampling"]


def phi_steps(settings: Settings) -> tuple[float, float, float, int]:
    """The spindle range, step and count from ``-phi``, ``-osc``, ``-phistep``, ``-phisteps``.

    Args:
        settings: The user's settings.

    Returns:
        ``(phi0, osc, phistep, phisteps)``; angles in rad.
    """
    s = settings
    phi0 = s.phi_deg / RTD
    osc = s.osc_deg / RTD if s.osc_deg is not None else -1.0
    phistep = s.phistep_deg / RTD if s.phistep_deg is not None else -1.0
    phisteps = s.phisteps
    if phisteps < 0:
        if osc < 0.0:
            if phistep <= 0.0:
                phisteps, osc, phistep = 1, 0.0, 0.0
            else:
                osc, phisteps = phistep, 2
        elif phistep <= 0.0:
            phisteps, phistep = 2, osc / 2.0
        else:
            phisteps = math.ceil(osc / phistep)
    else:
        if phisteps == 0:
            phisteps = 1
        if osc < 0.0:
            if phistep <= 0.0:
                osc = 1.0 / RTD
                phistep = osc / phisteps
            else:
                osc, phisteps = phistep, 2
        elif phistep < 0.0:
            phistep = osc / phisteps
    return phi0, osc, phistep, phisteps


def _auto_steps(
    steps: int, value: float, step: float, *, nothing: tuple[int, float, float]
) -> tuple[int, float, float]:
    """The C program's rule for (range, step, count) triples (divergence and dispersion)."""
    if steps <= 0:
        if value < 0.0:
            if step <= 0.0:
                return nothing
            return 2, step, step
        if step <= 0.0:
            return 2, value, value
        return math.ceil(value / step), value, step
    if value < 0.0:
        if step <= 0.0:
            value = 1.0
            return steps, value, value / steps
        return 2, step, step
    if step <= 0.0:
        if steps <= 1:
            steps = 2
        return steps, value, value / (steps - 1)
    return steps, value, step


def _mrad(value: float | None) -> float:
    return value / 1000.0 if value is not None else -1.0


def _no_steps(steps: int, value: float, step: float) -> tuple[int, float, float]:
    """The C program's final rule: a loop with no range, step or count runs once at zero."""
    if value <= 0.0 or step <= 0.0 or steps <= 0:
        return 1, 0.0, 0.0
    return steps, value, step


def divergence_steps(settings: Settings) -> tuple[tuple[int, float, float], ...]:
    """Horizontal divergence, vertical divergence and dispersion loops.

    Args:
        settings: The user's settings.

    Returns:
        Three ``(steps, range, step)`` triples: horizontal and vertical divergence (rad),
        dispersion (fraction of lambda0).
    """
    s = settings
    hdiv = _auto_steps(
        s.hdivsteps, _mrad(s.hdivrange_mrad), _mrad(s.hdivstep_mrad), nothing=(1, 0.0, 0.0)
    )
    vdiv = _auto_steps(
        s.vdivsteps, _mrad(s.vdivrange_mrad), _mrad(s.vdivstep_mrad), nothing=(1, 0.0, 0.0)
    )
    disp = _auto_steps(s.dispsteps, s.dispersion_pct / 100.0, -1.0, nothing=(1, 0.0, 0.0))
    return _no_steps(*hdiv), _no_steps(*vdiv), _no_steps(*disp)


def sensor_layers(settings: Settings) -> tuple[int, float, float, float, tuple[str, ...]]:
    """Sensor layers from ``-detector_thick`` and ``-thicksteps``, and the attenuation.

    Without ``-detector_abs`` a thick sensor absorbs over its own thickness (with a warning).

    Args:
        settings: The user's settings.

    Returns:
        ``(thicksteps, thickness, thickstep, mu, notes)``: m, m, 1/m and the warning.
    """
    thick = settings.detector_thick_um * 1e-6
    thickstep = -1.0
    thicksteps = settings.thicksteps
    if thicksteps <= 0:
        if thick < 0.0:
            thicksteps, thick, thickstep = 1, 0.0, 0.0
        else:
            thicksteps = 2
            thickstep = thick / thicksteps
    elif thick < 0.0:
        thick = 0.5e-6
        thickstep = thick / thicksteps
    else:
        if thicksteps <= 1:
            thicksteps = 2
        thickstep = thick / (thicksteps - 1)
    att = settings.detector_attenuation_um
    if att is None:
        mu = -1.0
    elif math.isinf(att) or att == 0.0:
        mu = 0.0
    else:
        mu = 1.0 / (att * 1e-6)
    notes: tuple[str, ...] = ()
    if thick > 0.0 and mu < 0.0:
        mu = 1.0 / thick
        notes = (f"WARNING: setting detector attenuation depth to {mu:g} m",)
    if thick <= 0.0 or thickstep <= 0.0 or thicksteps <= 0:
        thicksteps, thick, thickstep = 1, 0.0, 0.0
    return thicksteps, thick, thickstep, mu, notes


def mosaic_domain_count(settings: Settings) -> tuple[int, float, tuple[str, ...]]:
    """Mosaic domains from ``-mosaic`` and ``-mosaic_domains`` (10 by default with a spread).

    Args:
        settings: The user's settings.

    Returns:
        ``(domains, mosaic_spread, notes)``: spread in rad, and the C program's warnings.
    """
    mosaic_spread = settings.mosaic_deg / RTD if settings.mosaic_deg is not None else -1.0
    domains = settings.mosaic_domains
    notes: tuple[str, ...] = ()
    if domains <= 0:
        if mosaic_spread < 0.0:
            domains, mosaic_spread = 1, 0.0
        elif mosaic_spread == 0.0:
            domains = 1
        else:
            notes = ("WARNING: finite mosaicity with only one domain! upping to 10 mosaic domains",)
            domains = 10
    elif mosaic_spread < 0.0:
        notes = ("WARNING: no mosaic spread specified.  setting mosaic_domains = 1",)
        mosaic_spread, domains = 0.0, 1
    elif mosaic_spread == 0.0:
        notes = ("WARNING: zero mosaic spread specified.  setting mosaic_domains = 1",)
        domains = 1
    return domains, mosaic_spread, notes


def resolve_sampling(settings: Settings) -> Resolved[SamplingReport]:
    """The step counts of every loop of the render but the sub-pixels.

    Args:
        settings: The user's settings.

    Returns:
        Spindle, sensor and mosaic parameters (rad, m, 1/m), the loop counts, and the report.
    """
    phi0, osc, phistep, phisteps = phi_steps(settings)
    hdiv, vdiv, disp = divergence_steps(settings)
    thicksteps, thick, thickstep, mu, sensor_notes = sensor_layers(settings)
    domains, mosaic_spread, mosaic_notes = mosaic_domain_count(settings)
    params = dict(
        detector_thickstep=thickstep,
        detector_mu=mu,
        phi0=phi0,
        phistep=phistep,
        mosaic_spread=mosaic_spread,
    )
    static = dict(
        layers=thicksteps,
        phisteps=phisteps,
        mosaic_domains=domains,
        has_thickness=thick != 0.0,
        oversample_thick=settings.oversample_thick,
        oversample_polar=settings.oversample_polar,
        oversample_omega=settings.oversample_omega,
    )
    report = SamplingReport(
        phi0=phi0,
        osc=osc,
        phistep=phistep,
        phisteps=phisteps,
        hdivsteps=hdiv[0],
        hdivrange=hdiv[1],
        hdivstep=hdiv[2],
        vdivsteps=vdiv[0],
        vdivrange=vdiv[1],
        vdivstep=vdiv[2],
        dispsteps=disp[0],
        dispersion=disp[1],
        dispstep=disp[2],
        thickness=thick,
        thickstep=thickstep,
        thicksteps=thicksteps,
        mu=mu,
        mosaic_spread=mosaic_spread,
        mosaic_domains=domains,
        notes=sensor_notes + mosaic_notes,
    )
    return Resolved({k: float64_tensor(v) for k, v in params.items()}, static, report)


def resolve_oversampling(
    settings: Settings, crystal_max: float, distance: float, wavelength: float, pixel_size: float
) -> OversampleReport:
    """Sub-pixels per pixel edge: ``-oversample``, else enough to resolve the crystal's size.

    Args:
        settings: The user's settings.
        crystal_max: The crystal's largest edge (m).
        distance: Sample to detector along the beam (m).
        wavelength: lambda0 (m).
        pixel_size: Pixel edge (m).

    Returns:
        The oversampling, the recommended one, and the C program's notes.
    """
    notes: list[str] = []
    recip_pixel = wavelength * distance / pixel_size
    recommended = math.ceil(3.0 * crystal_max / recip_pixel)
    if recommended <= 0:
        recommended = 1
    oversample = settings.oversample
    if oversample <= 0:
        oversample = recommended
        notes.append(f"auto-selected {oversample}-fold oversampling")
    if oversample < recommended:
        notes.append(f"WARNING: maximum dimension of sample is {crystal_max * 1e10:g} A")
        notes.append(f"         but reciprocal pixel size is {recip_pixel * 1e10:g} A")
        notes.append("         intensity may vary significantly across a pixel!")
        notes.append(f"         recommend -oversample {recommended} to work around this")
    if oversample <= 0:
        oversample = 1
    return OversampleReport(oversample=oversample, recommended=recommended, notes=tuple(notes))
