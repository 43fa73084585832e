"""Levenberg-Marquardt on the exact Jacobian of the rendered pixels.

Each iteration renders the simulator's pixel set once with forward-mode autodiff (the values
and their ``(N, p)`` Jacobian), forms the Gauss-Newton normal equations of the loss
(least squares: ``J^T J``; Poisson: the Fisher information ``J^T diag(1/mu) J``) in scaled
coordinates (each parameter divided by its typical step), and solves them with Marquardt's
damping ``lambda * diag``. A trial step is kept when it lowers the loss (the damping then
falls by 3), otherwise the damping grows by 4 and the step is solved again without a new
Jacobian. The fit stops when every accepted step is below ``step_tolerance`` of that
parameter's standard error, when the loss no longer falls, or after ``max_iter`` iterations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from nb_core.model import Simulator
from nb_core.refine._gradient import parameter_steps
from nb_core.refine._uncertainty import covariance_of, flatten_values, jacobian

__all__ = [
    "LMOptions",
    "LMOutcome",
    "least_squares",
    "levenberg_marquardt",
    "normal_equations",
    "pixel_loss",
    "poisson_mean",
]

#: ``callback(loss, values)`` after each accepted step.
StepCallback = Callable[[float, dict[str, float | list[float]]], None]


@dataclass(frozen=True)
class LMOptions:
    """Stopping rules and damping of :func:`levenberg_marquardt`.

    Attributes:
        max_iter: Jacobian evaluations at most.
        step_tolerance: Stop when every step is below this many standard errors.
        loss_tolerance: Stop when a step lowers the loss by less than this fraction.
        damping: Marquardt's lambda at the start (relative to the diagonal).
        max_rejections: Damping increases tried before the fit stops where it is.
    """

    max_iter: int = 30
    step_tolerance: float = 0.01
    loss_tolerance: float = 1e-12
    damping: float = 1e-3
    max_rejections: int = 10


@dataclass(frozen=True)
class LMOutcome:
    """Where :func:`levenberg_marquardt` stopped.

    Attributes:
        loss: Final loss.
        iterations: Accepted steps.
        converged: Stopped by the step or loss rule (not by ``max_iter``).
        covariance: ``(p, p)`` covariance of the flattened values at the final values.
        history: Loss after each accepted step (the start first).
    """

    loss: float
    iterations: int
    converged: bool
    covariance: Tensor
    history: list[float]


#: The Poisson mean's floor, as a fraction of the observed pixels' mean (see
#: :func:`poisson_mean`).
POISSON_FLOOR = 1e-3


def poisson_mean(model: Tensor, observed: Tensor) -> Tensor:
    """The Poisson mean a fit compares with the counts: the model plus a small floor.

    Where a model still misses an observed spot its photons are near 0 while the counts are
    not, and ``-y log(mu)`` there would rule the loss and its curvature; a floor of
    :data:`POISSON_FLOOR` times the mean count bounds those terms and leaves the loss at
    the spots as it is.

    Args:
        model: ``(N,)`` model photons.
        observed: ``(N,)`` observed counts.

    Returns:
        ``(N,)`` mean photons.
    """
    floor = POISSON_FLOOR * torch.clamp(observed.mean(), min=1e-9)
    return torch.clamp(model, min=0.0) + floor


def pixel_loss(model: Tensor, observed: Tensor, kind: str) -> Tensor:
    """The loss between model and observed pixel values.

    Args:
        model: ``(N,)`` model photons.
        observed: ``(N,)`` observed photons (counts for Poisson).
        kind: ``"lsq"`` (sum of squared residuals) or ``"poisson"`` (negative
            log-likelihood up to a constant).

    Returns:
        ``()`` loss.
    """
    if kind == "poisson":
        mu = poisson_mean(model, observed)
        return (mu - observed * torch.log(mu)).sum()
    return ((model - observed) ** 2).sum()


def normal_equations(
    model: Tensor, jac: Tensor, observed: Tensor, kind: str
) -> tuple[Tensor, Tensor]:
    """Gradient ``(p,)`` and Gauss-Newton Hessian ``(p, p)`` of :func:`pixel_loss`."""
    if kind == "poisson":
        mu = poisson_mean(model, observed)
        gradient = jac.T @ (1.0 - observed / mu)
        return gradient, jac.T @ (jac / mu[:, None])
    residual = model - observed
    return 2.0 * (jac.T @ residual), 2.0 * (jac.T @ jac)


def _bounds(sim: Simulator) -> tuple[Tensor, Tensor]:
    lower, upper = [], []
    for name in sim.names:
        spec, size = sim.specs[name], int(sim.values[name].numel())
        lower += [-torch.inf if spec.lower is None else spec.lower] * size
        upper += [torch.inf if spec.upper is None else spec.upper] * size
    like = sim.values[sim.names[0]]
    return (
        torch.tensor(lower, dtype=like.dtype, device=like.device),
        torch.tensor(upper, dtype=like.dtype, device=like.device),
    )


def _write(sim: Simulator, theta: Tensor) -> None:
    _, unflatten = flatten_values(sim)
    with torch.no_grad():
        for name, value in unflatten(theta).items():
            sim.values[name].copy_(value)


def levenberg_marquardt(
    sim: Simulator,
    observed: Tensor,
    *,
    loss: str = "poisson",
    options: LMOptions | None = None,
    callback: StepCallback | None = None,
) -> LMOutcome:
    """Refine the simulator's trainable values against observed values at its pixel set.

    Args:
        sim: The simulator (updated in place); its pixel set (or the whole image) is fitted.
        observed: ``(N,)`` observed values at ``sim.pixels`` (or the flattened image).
        loss: ``"lsq"`` or ``"poisson"``.
        options: Stopping rules and damping.
        callback: Called after each accepted step with (loss, values).

    Returns:
        The final loss, steps taken, whether it converged, and the covariance.
    """
    options = LMOptions() if options is None else options
    theta, _ = flatten_values(sim)
    scale = torch.cat([s.reshape(-1) for s in parameter_steps(sim).values()]).to(theta)
    lower, upper = _bounds(sim)
    observed = observed.reshape(-1).to(theta)
    damping, history, converged = options.damping, [], False
    last_step: Tensor | None = None
    for _ in range(options.max_iter + 1):
        model, jac = jacobian(sim, theta)
        current = float(pixel_loss(model, observed, loss))
        history.append(current)
        cov = covariance_of(model, jac, observed, loss)
        sigma = torch.sqrt(torch.clamp(torch.diagonal(cov), min=1e-300))
        if last_step is not None and bool(
            (last_step.abs() <= options.step_tolerance * sigma).all()
        ):
            converged = True
            break
        if len(history) > options.max_iter:
            break
        gradient, hess = normal_equations(model, jac * scale, observed, loss)
        step, damping, after = _damped_step(
            sim,
            theta,
            scale,
            gradient,
            hess,
            (lower, upper),
            observed,
            loss,
            current,
            damping,
            options,
        )
        if step is None:
            converged = True
            break
        theta = theta + step
        _write(sim, theta)
        if callback is not None:
            callback(after, sim.state())
        last_step = step
    _write(sim, theta)
    return LMOutcome(
        loss=history[-1],
        iterations=len(history) - 1,
        converged=converged,
        covariance=cov,
        history=history,
    )


def _damped_step(
    sim: Simulator,
    theta: Tensor,
    scale: Tensor,
    gradient: Tensor,
    hess: Tensor,
    bounds: tuple[Tensor, Tensor],
    observed: Tensor,
    loss: str,
    current: float,
    damping: float,
    options: LMOptions,
) -> tuple[Tensor | None, float, float]:
    """The first damped Gauss-Newton step that lowers the loss, and the damping after it.

    Returns:
        ``(step, damping, loss)``: the step in user units, or None when no damping lowers the
        loss by more than ``options.loss_tolerance`` (the fit is at its minimum); the loss
        after the step.
    """
    _, unflatten = flatten_values(sim)
    diagonal = torch.clamp(torch.diagonal(hess), min=1e-12 * float(torch.diagonal(hess).max()))
    for _ in range(options.max_rejections):
        system = hess + damping * torch.diag(diagonal)
        scaled_step = torch.linalg.lstsq(system, -gradient[:, None]).solution[:, 0]
        trial = torch.clamp(theta + scaled_step * scale, min=bounds[0], max=bounds[1])
        with torch.no_grad():
            value = float(pixel_loss(sim.render_with(unflatten(trial)).reshape(-1), observed, loss))
        if value < current:
            gain = (current - value) / max(abs(current), 1e-300)
            if gain < options.loss_tolerance:
                return None, damping, current
            return trial - theta, max(damping / 3.0, 1e-12), value
        damping *= 4.0
    return None, damping, current


def least_squares(
    residual: Callable[[Tensor], Tensor],
    vector: Tensor,
    iterations: int,
    *,
    columns: Tensor | None = None,
) -> Tensor:
    """Levenberg-Marquardt on a residual function of one vector (forward-mode Jacobian).

    A step is kept when it lowers the sum of squares (the damping then falls by 3), else the
    damping grows by 4; the fit ends after ``iterations`` Jacobians, when twelve damping
    increases find no lower value, or when a step gains less than 1e-10 of the sum.

    Args:
        residual: ``vector -> (r,)`` residuals (differentiable under ``torch.func.jacfwd``).
        vector: ``(p,)`` start.
        iterations: Jacobian evaluations at most.
        columns: ``(p,)`` bool, the entries that move (default: all).

    Returns:
        ``(p,)`` the refined vector.
    """
    from nb_core.refine._uncertainty import quiet_forward_ad

    moving = torch.ones_like(vector, dtype=torch.bool) if columns is None else columns

    def cost(vec: Tensor) -> float:
        with torch.no_grad():
            value = float((residual(vec) ** 2).sum())
        return value if math.isfinite(value) else math.inf

    damping, current = 1e-3, cost(vector)
    for _ in range(iterations):
        with quiet_forward_ad():
            jac = torch.func.jacfwd(residual)(vector)[:, moving]
        with torch.no_grad():
            r = residual(vector)
            normal, gradient = jac.T @ jac, jac.T @ r
            floor = 1e-12 * float(normal.diagonal().max())
            diagonal = torch.clamp(torch.diagonal(normal), min=floor)
        for _ in range(12):
            system = normal + damping * torch.diag(diagonal)
            step = torch.linalg.lstsq(system, -gradient[:, None]).solution[:, 0]
            trial = vector.clone()
            trial[moving] = vector[moving] + step
            value = cost(trial)
            if value < current:
                vector, damping = trial, max(damping / 3.0, 1e-9)
                break
            damping *= 4.0
        else:
            break
        if current - value <= 1e-10 * current:
            break
        current = value
    return vector
