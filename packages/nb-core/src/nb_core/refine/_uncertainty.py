"""Jacobians, covariances and correlations of a simulator's trainable parameters.

Least squares: ``sigma^2 (J^T J)^-1`` with ``sigma^2 = RSS / (n - p)``. Poisson: the inverse
Fisher information ``(J^T diag(1/mu) J)^-1``. ``J`` is the Jacobian of the rendered pixels with
respect to the flattened trainable values, from forward-mode autodiff
(``torch.func.jacfwd``). A lattice-constrained cell is reported as its six parameters, with
the covariance carried through the constraint's linear map.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from nb_core.model import Simulator

__all__ = [
    "ParameterTable",
    "covariance",
    "flatten_values",
    "hessian",
    "jacobian",
    "parameter_table",
]

#: Names of the six cell parameters and the three misset angles, as a report shows them.
_COMPONENTS = {
    "cell": ("a", "b", "c", "alpha", "beta", "gamma"),
    "misset": ("x", "y", "z"),
    "detector_rotation": ("x", "y", "z"),
}


@contextlib.contextmanager
def quiet_forward_ad() -> Iterator[None]:
    """Silence the deprecation warning torch itself raises when forward-mode AD first loads."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*torch.jit.script.*deprecated", category=DeprecationWarning
        )
        yield


def flatten_values(sim: Simulator) -> tuple[Tensor, Callable[[Tensor], dict[str, Tensor]]]:
    """The trainable values as one vector, and the map back to name -> value.

    Args:
        sim: The simulator.

    Returns:
        ``(theta, unflatten)``: ``(p,)`` user-unit values in :attr:`Simulator.names` order
        (a constrained cell by its free parameters) and ``unflatten(vector) -> dict``.
    """
    names = sim.names
    shapes = [sim.values[n].shape for n in names]
    sizes = [int(sim.values[n].numel()) for n in names]
    theta = torch.cat([sim.values[n].detach().reshape(-1) for n in names])

    def unflatten(vec: Tensor) -> dict[str, Tensor]:
        parts = torch.split(vec, sizes)
        return {n: p.reshape(s) for n, s, p in zip(names, shapes, parts, strict=True)}

    return theta, unflatten


def jacobian(sim: Simulator, theta: Tensor, pixels: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The rendered pixels and their Jacobian with respect to the flattened values.

    The render's chunk budget is divided by the number of parameters, so that the
    forward-mode pass (one tangent per parameter) keeps the render's peak memory.

    Args:
        sim: The simulator.
        theta: ``(p,)`` user-unit values (see :func:`flatten_values`).
        pixels: ``(N,)`` flat pixel indices (default: the simulator's set, else all pixels).

    Returns:
        ``(values, jacobian)``: ``(N,)`` photons and ``(N, p)`` photons per user unit.
    """
    _, unflatten = flatten_values(sim)

    def image(vec: Tensor) -> tuple[Tensor, Tensor]:
        out = sim.render_with(unflatten(vec), pixels).reshape(-1)
        return out, out

    budget = sim.max_evaluations
    base = budget if budget is not None else 1 << 19
    sim.max_evaluations = max(1 << 12, base // max(1, int(theta.numel())))
    try:
        with quiet_forward_ad():
            jac, values = torch.func.jacfwd(image, has_aux=True)(theta)
    finally:
        sim.max_evaluations = budget
    return values.detach(), jac.detach()


def covariance(
    sim: Simulator,
    observed: Tensor,
    *,
    loss: str = "lsq",
    pixels: Tensor | None = None,
) -> Tensor:
    """Covariance of the flattened trainable values (user units) at their current values.

    Args:
        sim: The simulator.
        observed: ``(spixels, fpixels)`` observed image, or ``(N,)`` values at ``pixels``.
        loss: ``"lsq"`` or ``"poisson"``.
        pixels: ``(N,)`` flat pixel indices the fit used (default: the simulator's set).

    Returns:
        ``(p, p)`` covariance (in :attr:`Simulator.names` order; a constrained cell by its
        free parameters).
    """
    theta, _ = flatten_values(sim)
    pixels = sim.pixels if pixels is None else pixels
    model, jac = jacobian(sim, theta, pixels)
    target = observed.reshape(-1).to(model)
    if pixels is not None and target.numel() != model.numel():
        target = target[pixels]
    return covariance_of(model, jac, target, loss)


def covariance_of(model: Tensor, jac: Tensor, observed: Tensor, loss: str) -> Tensor:
    """Covariance from a model, its Jacobian and the observation (see :func:`covariance`).

    Args:
        model: ``(N,)`` model values.
        jac: ``(N, p)`` Jacobian.
        observed: ``(N,)`` observed values.
        loss: ``"lsq"`` or ``"poisson"``.

    Returns:
        ``(p, p)`` covariance.
    """
    if loss == "poisson":
        from nb_core.refine._levenberg import poisson_mean

        weights = 1.0 / poisson_mean(model, observed)
        return torch.linalg.pinv(jac.T @ (weights[:, None] * jac))
    rss = ((model - observed) ** 2).sum()
    dof = max(1, model.numel() - jac.shape[1])
    return (rss / dof) * torch.linalg.pinv(jac.T @ jac)


@dataclass(frozen=True)
class ParameterTable:
    """Refined parameters one number per row, with their covariance.

    Attributes:
        labels: Row names (``"distance"``, ``"cell.a"``, ``"misset.x"``, ...).
        values: ``(r,)`` values (user units).
        sigmas: ``(r,)`` one-sigma uncertainties (user units; 0 for values a constraint fixes).
        covariance: ``(r, r)`` covariance.
        correlation: ``(r, r)`` correlation matrix (0 where a sigma is 0).
    """

    labels: tuple[str, ...]
    values: Tensor
    sigmas: Tensor
    covariance: Tensor
    correlation: Tensor


def parameter_table(sim: Simulator, cov: Tensor) -> ParameterTable:
    """Expand a covariance over the flattened values into one row per reported number.

    Args:
        sim: The simulator (its current values are the table's values).
        cov: ``(p, p)`` covariance from :func:`covariance`.

    Returns:
        The table (F_hkl left out).
    """
    blocks, labels, values = [], [], []
    for name in sim.names:
        value = sim.values[name].detach()
        size = int(value.numel())
        if name == "cell":
            blocks.append(sim.constraint.matrix(value))
            value = sim.cell()
        else:
            blocks.append(torch.eye(size, dtype=value.dtype, device=value.device))
        if name == "F_hkl":
            blocks[-1] = blocks[-1][:0]
            continue
        flat = value.detach().reshape(-1)
        parts = _COMPONENTS.get(name, ())
        labels += [name] if flat.numel() == 1 else [f"{name}.{p}" for p in parts[: flat.numel()]]
        values.append(flat)
    expand = torch.block_diag(*blocks).to(cov)
    table_cov = expand @ cov @ expand.T
    sigmas = torch.sqrt(torch.clamp(torch.diagonal(table_cov), min=0.0))
    safe = torch.where(sigmas > 0, sigmas, torch.ones_like(sigmas))
    correlation = table_cov / safe[:, None] / safe[None, :]
    correlation = torch.where((sigmas[:, None] > 0) & (sigmas[None, :] > 0), correlation, 0.0)
    return ParameterTable(
        labels=tuple(labels),
        values=torch.cat(values).to(cov) if values else cov.new_zeros(0),
        sigmas=sigmas,
        covariance=table_cov,
        correlation=correlation,
    )


def hessian(sim: Simulator, observed: Tensor, *, loss: str = "lsq") -> Tensor:
    """Exact Hessian of the loss with respect to the flattened trainable parameters.

    Args:
        sim: The simulator.
        observed: ``(spixels, fpixels)`` observed image (``(N,)`` with a pixel set).
        loss: ``"lsq"`` or ``"poisson"``.

    Returns:
        ``(p, p)`` second derivatives (user units).
    """
    from nb_core.refine._gradient import loss_fn

    criterion = loss_fn(loss)
    theta, unflatten = flatten_values(sim)
    obs = observed.to(dtype=theta.dtype, device=theta.device)
    if sim.pixels is not None and obs.numel() != sim.pixels.numel():
        obs = obs.reshape(-1)[sim.pixels]

    def objective(vec: Tensor) -> Tensor:
        return criterion(sim.render_with(unflatten(vec)), obs)

    with quiet_forward_ad():
        return torch.func.hessian(objective)(theta)
