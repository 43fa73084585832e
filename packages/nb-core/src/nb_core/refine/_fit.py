"""``fit``: spot positions first, then Levenberg-Marquardt on the pixels around the spots.

The default method (``"lm"``) runs, in order:

1. **spots** -- when spot-moving parameters are refined: observed spot centroids against the
   model's lattice (:mod:`nb_core.refine._spots`), which brings a model that is several pixels
   or tenths of a degree off close enough for the spots to overlap;
2. **scale** -- when the overall scale is refined: its start is set from the summed photons
   of the spot pixels (the scale enters linearly);
3. **pixels** -- Levenberg-Marquardt (:mod:`nb_core.refine._levenberg`) on the pixels near
   the model's and the observed spots (a margin around both), rendered sparsely; the pixel
   set is chosen again at the refined model and the fit repeated until it no longer changes.

``"lbfgs"`` and ``"adam"`` keep the first-order path with coarse-to-fine smoothing over the
whole image (:func:`nb_core.refine._gradient.fit_gradient`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as nnf
from torch import Tensor

from nb_core.model import Simulator
from nb_core.refine._gradient import DEFAULT_BLUR, fit_gradient
from nb_core.refine._levenberg import LMOptions, levenberg_marquardt, pixel_loss
from nb_core.refine._result import FitResult, finish_result
from nb_core.refine._spots import GEOMETRY, Spots, find_spots, refine_spot_positions

__all__ = ["METHODS", "fit", "select_pixels"]

#: Optimizers :func:`fit` offers.
METHODS = ("lm", "lbfgs", "adam")

Callback = Callable[[int, float, dict[str, float | list[float]]], None]


def select_pixels(sim: Simulator, observed_spots: Tensor | None, *, margin: int = 2) -> Tensor:
    """Pixels worth fitting: the model's predicted spots and the observed spots, with a margin.

    The model's spots come from :func:`nb_core.spots.spot_pixels` (a coarse prediction, far
    cheaper than a render); the observed ones are the spot finder's pixels.

    Args:
        sim: The simulator at its current values.
        observed_spots: ``(S, F)`` bool mask of the observed spots, or None.
        margin: Pixels added around every selected pixel.

    Returns:
        ``(N,)`` int64 flat indices in raster order, inside the ROI and mask.
    """
    from nb_core.spots import spot_pixels

    with torch.no_grad():
        params, _ = sim.params()
        predicted = spot_pixels(params, sim.static, margin=margin).pixels
    chosen = torch.zeros(sim.static.spixels * sim.static.fpixels, dtype=torch.bool,
                         device=sim.base.device)  # fmt: skip
    chosen[predicted] = True
    if observed_spots is not None:
        size = 2 * margin + 1
        spots = observed_spots.to(chosen.device)[None, None].double()
        grown = nnf.max_pool2d(spots, size, stride=1, padding=margin)[0, 0] > 0
        chosen = chosen | (grown & _valid_pixels(sim)).reshape(-1)
    return torch.nonzero(chosen).reshape(-1)


def _valid_pixels(sim: Simulator) -> Tensor:
    """``(S, F)`` bool: the pixels the model renders (inside the ROI, unmasked)."""
    from nb_core.render import rendered_pixels

    static = sim.static
    valid = torch.zeros(static.spixels * static.fpixels, dtype=torch.bool, device=sim.base.device)
    valid[rendered_pixels(sim.base, static)] = True
    return valid.reshape(static.spixels, static.fpixels)


def _start_scale(sim: Simulator, observed: Tensor, pixels: Tensor) -> None:
    """Set the overall scale from the photons of the selected pixels."""
    with torch.no_grad():
        model = sim.render_with(sim.user_values(), pixels)
        ratio = observed.reshape(-1)[pixels].sum() / torch.clamp(model.sum(), min=1e-300)
        sim.values["scale"].mul_(ratio)


def fit(
    sim: Simulator,
    observed: Tensor,
    *,
    loss: str = "poisson",
    method: str = "lm",
    max_iter: int = 30,
    margin: int = 2,
    spots: bool = True,
    callback: Callback | None = None,
    uncertainties: bool = True,
    lr: float | None = None,
    tolerance: float = 1e-10,
    blurs: tuple[float, ...] = DEFAULT_BLUR,
) -> FitResult:
    """Refine the simulator's trainable parameters against an observed image.

    Args:
        sim: The simulator; its parameters are updated in place.
        observed: ``(spixels, fpixels)`` observed image (photons, or counts for Poisson).
        loss: ``"poisson"`` (counts) or ``"lsq"``.
        method: ``"lm"`` (the stages above), ``"lbfgs"`` or ``"adam"`` (whole image).
        max_iter: Iterations per stage.
        margin: Pixels around the spots that the pixel stage fits (``"lm"``).
        spots: Run the spot-position stage first (``"lm"``; only when spot-moving
            parameters are refined).
        callback: Called after each iteration with (iteration, loss, values).
        uncertainties: Compute one-sigma uncertainties and correlations at the end.
        lr: Learning rate for ``"lbfgs"``/``"adam"`` (scaled units).
        tolerance: Relative loss change that ends a ``"lbfgs"``/``"adam"`` stage.
        blurs: Coarse-to-fine smoothing (pixels) of ``"lbfgs"``/``"adam"``.

    Returns:
        Refined values, uncertainties, correlations, loss history and the stages run.

    Raises:
        KeyError: Unknown method or loss.
    """
    if method not in METHODS:
        raise KeyError(f"unknown method {method!r}; choose {', '.join(METHODS)}")
    if loss not in ("lsq", "poisson"):
        raise KeyError(f"unknown loss {loss!r}; choose lsq or poisson")
    observed = observed.to(dtype=sim.base.dtype, device=sim.base.device)
    if method != "lm":
        return fit_gradient(
            sim, observed, loss=loss, method=method, max_iter=max_iter, lr=lr,
            tolerance=tolerance, blurs=blurs, callback=callback, uncertainties=uncertainties,
        )  # fmt: skip
    start = time.perf_counter()
    result = FitResult(values={}, start=sim.state(), method="lm")
    found = find_spots(observed, valid=_valid_pixels(sim))
    _spot_stage(sim, observed, found, result, spots, loss)
    _pixel_stages(sim, observed, found, result, loss, max_iter, margin, callback)
    if uncertainties:
        finish_result(result, sim, observed.reshape(-1)[sim.pixels], loss)
    else:
        result.values = sim.state()
    result.seconds = time.perf_counter() - start
    return result


def _spot_stage(
    sim: Simulator, observed: Tensor, found: Spots, result: FitResult, enabled: bool, loss: str
) -> None:
    """The spot-position stage, kept only when it lowers the pixel loss."""
    moving = [name for name in sim.names if name in GEOMETRY]
    count = int(found.fast.numel())
    if not enabled or not moving:
        return
    if count < 3 * max(1, len(moving)):
        result.notes.append(f"{count} observed spots: too few for the spot stage, skipped")
        return
    before = {name: sim.values[name].detach().clone() for name in sim.names}
    loss_before = scaled_loss(sim, observed, found, loss)
    used, rms = refine_spot_positions(sim, found)
    loss_after = scaled_loss(sim, observed, found, loss)
    if not loss_after < loss_before:
        with torch.no_grad():
            for name, value in before.items():
                sim.values[name].copy_(value)
        result.notes.append(
            f"the spot stage ({used} of {count} spots, rms {rms:.3g} px) did not lower the pixel "
            "loss; the pixel fit starts from the starting model"
        )
        return
    result.stages.append(f"spots: {used} of {count} spots indexed, rms {rms:.3g} px")
    result.trajectory.append(sim.state())


def scaled_loss(sim: Simulator, observed: Tensor, found: Spots, loss: str) -> float:
    """The pixel loss near the model's and the observed spots, at the best overall scale.

    Comparing two models at their own best scale keeps an unrefined scale from deciding.
    """
    pixels = select_pixels(sim, found.mask)
    with torch.no_grad():
        model = sim.render_with(sim.user_values(), pixels)
        target = observed.reshape(-1)[pixels]
        model = model * (target.sum() / torch.clamp(model.sum(), min=1e-300))
        return float(pixel_loss(model, target, loss))


def _pixel_stages(
    sim: Simulator,
    observed: Tensor,
    found: Spots,
    result: FitResult,
    loss: str,
    max_iter: int,
    margin: int,
    callback: Callback | None,
) -> None:
    flat = observed.reshape(-1)
    previous: Tensor | None = None
    for round_number in range(3):
        pixels = select_pixels(sim, found.mask, margin=margin)
        if previous is not None and torch.equal(pixels, previous):
            break
        sim.set_pixels(pixels)
        if round_number == 0 and "scale" in sim.names:
            _start_scale(sim, observed, pixels)
        if not result.history:
            with torch.no_grad():
                result.history.append(float(pixel_loss(sim(), flat[pixels], loss)))

        def step(value: float, values: dict[str, float | list[float]]) -> None:
            result.iterations += 1
            result.history.append(value)
            result.trajectory.append(values)
            if callback is not None:
                callback(result.iterations, value, values)

        outcome = levenberg_marquardt(
            sim, flat[pixels], loss=loss, options=LMOptions(max_iter=max_iter), callback=step
        )
        result.loss, result.converged, result.pixels = (
            outcome.loss,
            outcome.converged,
            int(pixels.numel()),
        )
        result.stages.append(
            f"pixels: {pixels.numel()} pixels ({100 * pixels.numel() / flat.numel():.2g}% of "
            f"the image), {outcome.iterations} steps, loss {outcome.loss:.9g}"
        )
        previous = pixels
