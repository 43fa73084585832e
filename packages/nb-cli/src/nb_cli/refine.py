"""``nb refine``: fit nanoBragg parameters to an observed image by gradient descent."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nb_cli.flags import parse_args
from nb_core.checks import check_image_finite
from nb_core.cost import TIME_LIMIT_S
from nb_core.crystal.cell_model import LATTICES
from nb_core.errors import InputError
from nb_core.io import (
    atomic_write_bytes,
    c_atof,
    read_cbf,
    read_float_image,
    read_nexus_image,
    read_smv,
)
from nb_core.model import PARAMETERS, Simulator
from nb_core.params import Experiment
from nb_core.refine import METHODS, FitResult, fit
from nb_core.render import render
from nb_core.resolve import load_inputs, resolve
from nb_core.rng import CRandom
from nb_core.settings import Settings

__all__ = ["REFINABLE", "ObservedImage", "load_observed", "parse_iterations", "refine_command"]

#: Names ``--refine`` accepts.
REFINABLE = tuple(name for name in PARAMETERS if name != "F_hkl")


@dataclass(frozen=True)
class ObservedImage:
    """An observed image in photons, or in counts of unknown scale.

    Attributes:
        data: ``(spixels, fpixels)`` float64 pixels, ADC offset removed.
        scale_known: Whether ``data`` is photons (nb's scale undone, a noise image's counts, a
            float image); False for an int image of unknown scale (a C-written SMV file).
    """

    data: np.ndarray
    scale_known: bool


def _check_size(shape: tuple[int, ...], fpixels: int, spixels: int, path: Path) -> None:
    if shape != (spixels, fpixels):
        raise InputError(
            f"is {shape[1]} x {shape[0]} pixels but the flags describe {fpixels} x {spixels}",
            path,
        )


def _header_number(header: dict[str, str], key: str, path: Path) -> float | None:
    """A value of an SMV header key written by nb (None when absent)."""
    if key not in header:
        return None
    value = c_atof(header[key])
    if not math.isfinite(value) or (key == "NB_INTFILE_SCALE" and value <= 0):
        raise InputError(f"header {key}={header[key]}: expected a finite positive number", path)
    return value


def load_observed(path: Path, fpixels: int, spixels: int, adc_offset: float) -> ObservedImage:
    """Read an observed image in its true units.

    An SMV or miniCBF image that nb wrote with its scale (``-smv_header dials``: the
    ``NB_INTFILE_SCALE`` and ``ADC_OFFSET`` keys; a CBF's ``NB_intfile_scale`` and
    ``NB_adc_offset`` lines) becomes photons, ``(counts - adc) / scale`` (a noise image's
    scale is 1: counts); without the scale only the offset (the file's, else ``-adc``) is
    removed and the scale is unknown. A NeXus image (``.nxs``, ``.h5``) and a raw float32
    image are photons.

    Args:
        path: The image.
        fpixels: Expected width.
        spixels: Expected height.
        adc_offset: Counts to subtract when the file does not give its offset (the -adc value).

    Returns:
        The pixels and whether they are photons.

    Raises:
        InputError: Unreadable, or of another size than the flags describe.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from None
    if head[:1] == b"{" or head.startswith(b"###CBF"):
        if head[:1] == b"{":
            smv = read_smv(path)
            data, header = smv.data, smv.header
            scale = _header_number(header, "NB_INTFILE_SCALE", path)
            adc = _header_number(header, "ADC_OFFSET", path)
        else:
            cbf = read_cbf(path)
            data, scale, adc = cbf.data, cbf.intfile_scale, cbf.adc_offset
        _check_size(data.shape, fpixels, spixels, path)
        counts = data.astype(np.float64) - (adc_offset if adc is None else adc)
        return ObservedImage(counts if scale is None else counts / scale, scale is not None)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        frame = read_nexus_image(path)
        _check_size(frame.shape, fpixels, spixels, path)
        return ObservedImage(frame, True)
    return ObservedImage(read_float_image(path, fpixels, spixels).astype(np.float64), True)


def _check_finite(image: np.ndarray, path: Path) -> None:
    """Refuse an observed image with NaN or infinite pixels (no loss is defined on them)."""
    bad = ~np.isfinite(image)
    count = int(bad.sum())
    if count:
        slow, fast = (int(i) for i in np.argwhere(bad)[0])
        raise InputError(
            f"{count} of {image.size} pixels are NaN or infinite (the first at fast {fast}, "
            f"slow {slow}); an observed image must be finite everywhere",
            path,
        )


def _check_signal(image: np.ndarray, roi: tuple[int, int, int, int], path: Path) -> None:
    """Refuse an observed image that is one value over the fitted region (nothing to fit).

    Args:
        image: ``(S, F)`` observed image.
        roi: The region fitted, ``(xmin, xmax, ymin, ymax)`` pixels (inclusive).
        path: The image's file, for the message.
    """
    xmin, xmax, ymin, ymax = roi
    region = image[ymin : ymax + 1, xmin : xmax + 1]
    if region.size and float(region.max()) == float(region.min()):
        raise InputError(
            f"all {region.size} pixels of the fitted region are {float(region.min()):g}: "
            "there is no signal to refine against",
            path,
        )


def _check_output_target(json_out: str, option: str = "--json") -> Path:
    """Refuse an output path that could not be written: a folder, or in a missing folder."""
    target = Path(json_out)
    if not json_out.strip():
        raise InputError("expected a file path, got an empty string", option)
    if target.is_dir():
        raise InputError(f"{json_out} is a folder; give a file path", option)
    if target.exists() and not target.is_file():
        raise InputError(f"{json_out} is not a regular file", option)
    parent = target.parent
    if not parent.is_dir():
        raise InputError(f"folder {parent} does not exist", option)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"folder {parent} is not writable", option)
    return target


def parse_iterations(text: str) -> int:
    """The ``--max-iter`` value: a positive whole number, written in decimal digits.

    Args:
        text: The value as given.

    Returns:
        The number of iterations per stage.

    Raises:
        InputError: Not a whole number, or below 1.
    """
    value = text.strip()
    if re.fullmatch(r"[+-]?[0-9]+", value) is None or int(value) < 1:
        raise InputError(
            f"expected a positive whole number of iterations, got {text!r}", "--max-iter"
        )
    return int(value)


def _check_options(loss: str, method: str, max_iter: int, dtype: str, lattice: str) -> None:
    """Refuse option values ``refine_command`` has no meaning for."""
    if loss not in ("lsq", "poisson"):
        raise InputError(f"expected lsq or poisson, got {loss!r}", "--loss")
    if method not in METHODS:
        raise InputError(f"expected {', '.join(METHODS)}, got {method!r}", "--method")
    if lattice not in LATTICES:
        raise InputError(f"expected one of {', '.join(LATTICES)}, got {lattice!r}", "--lattice")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise InputError(
            f"expected a positive whole number of iterations, got {max_iter!r}", "--max-iter"
        )
    if dtype not in ("float32", "float64"):
        raise InputError(f"expected float32 or float64, got {dtype!r}", "--dtype")


def _parse_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError("name at least one parameter", "--refine")
    for name in names:
        if name not in REFINABLE:
            raise InputError(
                f"unknown parameter {name!r}; choose from {', '.join(REFINABLE)}", "--refine"
            )
    return names


def refine_command(
    observed: str,
    refine: str,
    flags: Sequence[str],
    *,
    loss: str = "poisson",
    method: str = "lm",
    max_iter: int = 30,
    json_out: str | None = None,
    write_mat: str | None = None,
    lattice: str = "triclinic",
    dtype: str = "float64",
    say: Callable[[str], None] = print,
) -> FitResult:
    """Refine the named parameters of the model that ``flags`` describe against ``observed``.

    Args:
        observed: Observed image path (SMV, or raw float32 in -floatfile layout).
        refine: Comma-separated parameter names.
        flags: nanoBragg flags of the starting model.
        loss: ``"poisson"`` or ``"lsq"``.
        method: ``"lm"``, ``"lbfgs"`` or ``"adam"`` (see :func:`nb_core.refine.fit`).
        max_iter: Iterations per stage.
        json_out: Where to write the result as JSON.
        write_mat: Where to write the refined orientation matrix (a ``-mat`` file).
        lattice: Lattice system the refined cell is held to.
        dtype: float64 (default) or float32.
        say: Where console lines go.

    Returns:
        The fit.

    Raises:
        InputError: Bad flags, names, options (checked before any work) or files (an
            observed image of another size, or with NaN or infinite pixels).
    """
    from nb_core.runtime import keep_freed_memory

    _check_options(loss, method, max_iter, dtype, lattice)
    names = _parse_names(refine)
    json_path = None if json_out is None else _check_output_target(json_out, "--json")
    mat_path = None if write_mat is None else _check_output_target(write_mat, "--write-mat")
    keep_freed_memory()
    experiment, settings = _starting_model(flags, dtype)
    st = experiment.static
    observed_image = load_observed(Path(observed), st.fpixels, st.spixels, settings.adc_offset)
    obs = observed_image.data
    _check_finite(obs, Path(observed))
    _check_signal(obs, st.roi, Path(observed))
    if not observed_image.scale_known and "scale" not in names:
        names.append("scale")
        say(f"note: {observed} does not say its counts per photon; refining an overall scale too")
    try:
        sim = Simulator(experiment, names, lattice=lattice)
    except KeyError as exc:
        raise InputError(str(exc.args[0]), "--refine") from None
    target = torch.as_tensor(obs, dtype=experiment.params.dtype)

    say(f"refining {', '.join(names)} against {observed} ({loss}, {method})")

    def report(iteration: int, value: float, values: dict[str, float | list[float]]) -> None:
        shown = " ".join(f"{k}={_fmt(v)}" for k, v in values.items())
        say(f"iter {iteration:3d}  loss {value:.9g}  {shown}")

    result = fit(sim, target, loss=loss, method=method, max_iter=max_iter, callback=report)
    for line in _report_lines(result):
        say(line)
    matrix = sim.matrix().detach().cpu().double().numpy()
    if mat_path is not None:
        text = "".join(" ".join(f"{x: .10f}" for x in row) + "\n" for row in matrix)
        atomic_write_bytes(mat_path, text.encode())
    if json_path is not None:
        payload = _payload(result, names, matrix)
        atomic_write_bytes(json_path, (json.dumps(payload, indent=2) + "\n").encode())
    return result


def _starting_model(flags: Sequence[str], dtype: str) -> tuple[Experiment, Settings]:
    """Resolve the starting model's flags; its image must be finite before any fit."""
    parsed = parse_args(list(flags))
    settings = parsed.settings
    experiment = resolve(
        settings,
        load_inputs(settings),
        dtype=torch.float64 if dtype == "float64" else torch.float32,
        quirks=parsed.quirks,
        rng=CRandom(),
        max_seconds=TIME_LIMIT_S,
    )
    with torch.no_grad():
        start = render(experiment.params, experiment.static)
    check_image_finite(start.to("cpu", torch.float32).numpy(), settings)
    return experiment, settings


def _report_lines(result: FitResult) -> list[str]:
    """The fit's closing report: stages, a table per parameter, strong correlations."""
    lines = [f"  {stage}" for stage in result.stages] + [f"  note: {n}" for n in result.notes]
    state = "converged" if result.converged or result.method != "lm" else "stopped at --max-iter"
    lines.append(
        f"final loss {result.loss:.9g} after {result.iterations} iterations "
        f"({result.seconds:.1f} s, {state})"
    )
    lines.append(
        f"  {'parameter':<14} {'start':>14} {'refined':>14} {'sigma':>11} {'shift/sigma':>12}"
    )
    for label, start, value, sigma, shift in result.rows():
        lines.append(f"  {label:<14} {start:>14.6f} {value:>14.6f} {sigma:>11.3g} {shift:>12.3g}")
    labels, corr = result.labels, result.correlation
    strong = [
        f"{labels[i]}/{labels[j]} {corr[i][j]:+.3f}"
        for i in range(len(labels))
        for j in range(i + 1, len(labels))
        if abs(corr[i][j]) >= 0.9
    ]
    if strong:
        lines.append("  strongly correlated: " + ", ".join(strong))
    return lines


def _finite_or_none(value: object) -> object:
    """JSON has no NaN or infinity: such numbers are written as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    return value


def _payload(result: FitResult, names: list[str], matrix: np.ndarray) -> dict[str, object]:
    """The ``--json`` document (user units; numbers that are not finite as null)."""
    payload = {
        "parameters": result.values,
        "uncertainties": result.uncertainties,
        "start": result.start,
        "units": {name: PARAMETERS[name].unit for name in names},
        "table": [
            {"name": label, "start": s, "refined": v, "sigma": e, "shift_over_sigma": z}
            for label, s, v, e, z in result.rows()
        ],
        "labels": result.labels,
        "correlation": result.correlation,
        "matrix": [float(x) for x in matrix.reshape(-1)],
        "loss": result.loss,
        "iterations": result.iterations,
        "converged": result.converged,
        "method": result.method,
        "pixels": result.pixels,
        "stages": result.stages,
        "notes": result.notes,
        "seconds": result.seconds,
        "history": result.history,
    }
    return _finite_or_none(payload)  # type: ignore[return-value]


def _fmt(value: float | list[float]) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(f"{x:.6g}" for x in value) + "]"
    return f"{value:.6g}"
