"""Fitting a :class:`~nb_core.model.Simulator` to an observed image, with uncertainties.

The optimizer works on scaled coordinates ``z``: each parameter is ``value0 + step * z``, with
the parameter's typical step (:data:`nb_core.model.PARAMETERS`), so that millimetres, degrees
and cell counts are comparable. L-BFGS (strong-Wolfe line search) and Adam are available;
bounds are enforced by projection. Uncertainties come from the Gauss-Newton approximation to
the Hessian (least squares) or the Fisher information (Poisson), with the Jacobian of the image
from forward-mode autodiff (``torch.func.jacfwd``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from nb_core.model import Simulator
from nb_core.refine._result import FitResult, finish_result

__all__ = [
    "DEFAULT_BLUR",
    "blur",
    "fit_gradient",
    "loss_fn",
    "parameter_steps",
    "project_bounds",
]

#: Gaussian smoothing (pixels) of the coarse-to-fine stages: wide blurs first widen the capture
#: range (spots that do not yet overlap still pull together), the last stage is unblurred.
DEFAULT_BLUR = (4.0, 2.0, 1.0, 0.0)


def blur(image: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian smoothing of an image (differentiable).

    Args:
        image: ``(S, F)`` image.
        sigma: Standard deviation in pixels; 0 returns the image unchanged.

    Returns:
        ``(S, F)`` smoothed image (reflecting edges).
    """
    if sigma <= 0:
        return image
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    batch = image[None, None]
    pad = min(radius, image.shape[-1] - 1, image.shape[-2] - 1)
    batch = torch.nn.functional.pad(batch, (pad, pad, pad, pad), mode="reflect")
    if pad < radius:
        batch = torch.nn.functional.pad(batch, (radius - pad,) * 4, mode="replicate")
    batch = torch.nn.functional.conv2d(batch, kernel.reshape(1, 1, 1, -1))
    batch = torch.nn.functional.conv2d(batch, kernel.reshape(1, 1, -1, 1))
    return batch[0, 0]


Callback = Callable[[int, float, dict[str, float | list[float]]], None]
#: ``loss(model, observed) -> ()`` between two ``(S, F)`` images.
Criterion = Callable[[Tensor, Tensor], Tensor]


def loss_fn(kind: str) -> Criterion:
    """A loss between a model image and an observed image.

    Args:
        kind: ``"lsq"`` (sum of squared residuals) or ``"poisson"`` (negative log-likelihood
            of observed counts, up to a constant).

    Returns:
        ``loss(model, observed) -> ()``.

    Raises:
        KeyError: Unknown kind.
    """
    if kind == "lsq":
        return lambda model, obs: ((model - obs) ** 2).sum()
    if kind == "poisson":

        def poisson(model: Tensor, obs: Tensor) -> Tensor:
            mu = torch.clamp(model, min=1e-12)
            return (mu - obs * torch.log(mu)).sum()

        return poisson
    raise KeyError(f"unknown loss {kind!r}; choose lsq or poisson")


def parameter_steps(sim: Simulator) -> dict[str, Tensor]:
    """Each trainable value's typical meaningful change (user units), shaped as the value.

    Args:
        sim: The simulator.

    Returns:
        Name -> step tensor (a constrained cell: the steps of its free parameters).
    """
    steps = {}
    for name in sim.names:
        value = sim.values[name].detach()
        step = torch.as_tensor(sim.specs[name].step, dtype=value.dtype, device=value.device)
        if name == "cell":
            step = step[list(sim.constraint.free)]
        step = step.expand_as(value).clone()
        # Parameters without a natural step (fluence, F_hkl) move in relative terms.
        relative = torch.clamp(value.abs() * 1e-3, min=1e-12)
        steps[name] = torch.where(step > 0, step, relative)
    return steps


def project_bounds(sim: Simulator) -> None:
    with torch.no_grad():
        for name in sim.names:
            spec = sim.specs[name]
            if spec.lower is not None or spec.upper is not None:
                sim.values[name].clamp_(min=spec.lower, max=spec.upper)


class _ScaledParameters:
    """The trainable parameters as the optimizer sees them: ``value = origin + step * z``.

    Args:
        sim: The simulator; its current values become the origin.

    Attributes:
        z: Name -> scaled coordinates (leaf tensors the optimizer moves, shaped as the value).
    """

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.steps = parameter_steps(sim)
        self.origin = {name: sim.values[name].detach().clone() for name in sim.names}
        self.z = {
            name: torch.zeros_like(self.origin[name], requires_grad=True) for name in sim.names
        }

    def values(self) -> dict[str, Tensor]:
        """Name -> value in user units, differentiable in :attr:`z`."""
        return {name: self.origin[name] + self.steps[name] * self.z[name] for name in self.z}

    def write(self) -> None:
        """Put the values into the simulator within their bounds, and ``z`` back in step."""
        sim = self.sim
        with torch.no_grad():
            for name in sim.names:
                sim.values[name].copy_(self.origin[name] + self.steps[name] * self.z[name])
        project_bounds(sim)
        with torch.no_grad():
            for name in sim.names:
                self.z[name].copy_((sim.values[name] - self.origin[name]) / self.steps[name])


@dataclass
class _StageLoss:
    """The loss one coarse-to-fine stage minimizes: both images smoothed, scaled to start near 1.

    Attributes:
        sigma: Gaussian smoothing of the stage (pixels).
        norm: The stage's unscaled loss at its start (so that first steps are well sized).
    """

    scaled: _ScaledParameters
    criterion: Criterion
    observed: Tensor
    sigma: float = 0.0
    norm: float = 1.0

    def __call__(self) -> Tensor:
        model = blur(self.scaled.sim.render_with(self.scaled.values()), self.sigma)
        return self.criterion(model, blur(self.observed, self.sigma)) / self.norm

    def start(self, sigma: float) -> None:
        """Begin the stage of smoothing ``sigma`` (pixels), measuring its norm."""
        self.sigma, self.norm = sigma, 1.0
        with torch.no_grad():
            self.norm = max(abs(float(self())), 1e-300)


def fit_gradient(
    sim: Simulator,
    observed: Tensor,
    *,
    loss: str = "lsq",
    method: str = "lbfgs",
    max_iter: int = 50,
    lr: float | None = None,
    tolerance: float = 1e-10,
    blurs: tuple[float, ...] = DEFAULT_BLUR,
    callback: Callback | None = None,
    uncertainties: bool = True,
) -> FitResult:
    """Refine the simulator's trainable parameters against an observed image.

    Args:
        sim: The simulator; its parameters are updated in place.
        observed: ``(spixels, fpixels)`` observed image (photons or counts).
        loss: ``"lsq"`` or ``"poisson"``.
        method: ``"lbfgs"`` or ``"adam"``.
        max_iter: Optimizer iterations per stage.
        lr: Learning rate in scaled units (default 1 for L-BFGS, 0.5 for Adam).
        tolerance: A stage ends when the relative change of the loss falls below this.
        blurs: Gaussian smoothing (pixels) of each coarse-to-fine stage; the loss compares
            smoothed images; the last value should be 0.
        callback: Called after each iteration with (iteration, loss, values).
        uncertainties: Also compute one-sigma uncertainties at the end.

    Returns:
        The refined values, loss history and uncertainties.
    """
    criterion = loss_fn(loss)
    observed = observed.to(dtype=sim.base.dtype, device=sim.base.device)
    scaled = _ScaledParameters(sim)
    stage = _StageLoss(scaled, criterion, observed)
    if method not in ("lbfgs", "adam"):
        raise KeyError(f"unknown method {method!r}; choose lbfgs or adam")

    start = time.perf_counter()
    result = FitResult(values={}, start=sim.state())
    result.history.append(_plain_loss(sim, criterion, observed))
    result.trajectory.append(sim.state())
    for sigma in blurs or (0.0,):
        stage.start(sigma)
        optimizer = _optimizer(method, list(scaled.z.values()), lr)
        _run_stage(optimizer, stage, result, max_iter, tolerance, callback)
    result.loss = result.history[-1]
    result.method = method
    result.pixels = int(observed.numel())
    result.values = sim.state()
    if uncertainties:
        finish_result(result, sim, observed, loss)
    result.seconds = time.perf_counter() - start
    return result


def _plain_loss(sim: Simulator, criterion: Criterion, observed: Tensor) -> float:
    """The unsmoothed, unscaled loss of the simulator's current values."""
    with torch.no_grad():
        return float(criterion(sim(), observed))


def _run_stage(
    optimizer: torch.optim.Optimizer,
    stage: _StageLoss,
    result: FitResult,
    max_iter: int,
    tolerance: float,
    callback: Callback | None,
) -> None:
    """Optimizer iterations of one stage, recorded in ``result`` (history, trajectory, count).

    The stage ends after ``max_iter`` iterations or when the relative change of its loss
    falls to ``tolerance``.
    """
    sim = stage.scaled.sim

    def closure() -> Tensor:
        optimizer.zero_grad()
        value = stage()
        value.backward()
        return value

    previous = 1.0
    for _ in range(max_iter):
        optimizer.step(closure)  # pyright: ignore[reportCallIssue, reportArgumentType]
        stage.scaled.write()
        with torch.no_grad():
            current = float(stage())
        result.iterations += 1
        result.history.append(_plain_loss(sim, stage.criterion, stage.observed))
        result.trajectory.append(sim.state())
        if callback is not None:
            callback(result.iterations, result.history[-1], sim.state())
        if abs(previous - current) <= tolerance * max(abs(previous), 1e-300):
            break
        previous = current


def _optimizer(method: str, params: list[Tensor], lr: float | None) -> torch.optim.Optimizer:
    if method == "lbfgs":
        # One iteration per step() call (the caller records each); the line search may take up
        # to 25 evaluations to extrapolate along the first, badly scaled direction.
        return torch.optim.LBFGS(
            params,
            lr=1.0 if lr is None else lr,
            max_iter=1,
            max_eval=25,
            tolerance_grad=1e-14,
            tolerance_change=1e-16,
            line_search_fn="strong_wolfe",
        )
    return torch.optim.Adam(params, lr=0.5 if lr is None else lr)
