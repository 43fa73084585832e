"""Many stills in one fit: shared parameters (the cell, ...) and per-shot orientations.

The shape of diffBragg's second stage: every shot has its own orientation (and whatever else
is named per shot); the cell, and optionally the detector or the overall scale, are shared.
Each shot's orientation is first brought close from its own spots, with the shared values
held; then one Levenberg-Marquardt fit takes every shot's spot pixels together. Its normal
equations have the shared parameters' block and one small block per shot, assembled from
each shot's forward-mode Jacobian.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from nb_core.model import Simulator
from nb_core.refine._fit import select_pixels
from nb_core.refine._gradient import parameter_steps
from nb_core.refine._levenberg import least_squares, normal_equations, pixel_loss
from nb_core.refine._spots import (
    SHELLS,
    Spots,
    assign_indices,
    find_spots,
    predicted_positions,
    reflecting_range,
)
from nb_core.refine._uncertainty import flatten_values, jacobian

__all__ = ["ShotsResult", "fit_shots"]


@dataclass
class ShotsResult:
    """Outcome of :func:`fit_shots`.

    Attributes:
        shared: Refined shared values (user units; the cell as six values).
        shots: Refined per-shot values, one dict per shot (user units).
        shared_sigmas: One-sigma uncertainties of the shared values (the free cell
            parameters for a constrained cell).
        shot_sigmas: One-sigma uncertainties per shot.
        loss: Final loss, all shots together.
        iterations: Accepted steps of the joint fit.
        converged: Whether the joint fit met its stopping rule.
        seconds: Wall time, spot stages included.
        pixels: Pixels fitted, all shots together.
        history: Joint loss after each accepted step (the start first).
    """

    shared: dict[str, float | list[float]]
    shots: list[dict[str, float | list[float]]]
    shared_sigmas: dict[str, float | list[float]] = field(default_factory=dict)
    shot_sigmas: list[dict[str, float | list[float]]] = field(default_factory=list)
    loss: float = float("nan")
    iterations: int = 0
    converged: bool = False
    seconds: float = 0.0
    pixels: int = 0
    history: list[float] = field(default_factory=list)


class _Shots:
    """The joint parameter vector: shared values first, then each shot's, in blocks."""

    def __init__(self, sim: Simulator, per_shot: Mapping[str, Tensor], shared: Sequence[str]):
        self.sim = sim
        self.shared = [n for n in sim.names if n in shared]
        self.own = [n for n in sim.names if n not in shared]
        if set(self.own) != set(per_shot):
            raise KeyError(f"give per-shot starting values for exactly {', '.join(self.own)}")
        self.count = int(next(iter(per_shot.values())).shape[0])
        self.per_shot = {n: per_shot[n].detach().to(sim.base.dtype).clone() for n in self.own}
        sizes = {n: int(sim.values[n].numel()) for n in sim.names}
        self.shared_size = sum(sizes[n] for n in self.shared)
        self.own_size = sum(sizes[n] for n in self.own)

    def load(self, shot: int) -> None:
        """Write shot ``shot``'s own values into the simulator."""
        with torch.no_grad():
            for name in self.own:
                self.sim.values[name].copy_(self.per_shot[name][shot])

    def save(self, shot: int) -> None:
        """Keep the simulator's own values as shot ``shot``'s."""
        with torch.no_grad():
            for name in self.own:
                self.per_shot[name][shot] = self.sim.values[name].detach()

    def vector(self) -> Tensor:
        """``(k + B m,)`` shared values then every shot's own values (user units)."""
        shared = [self.sim.values[n].detach().reshape(-1) for n in self.shared]
        own = [
            torch.cat([self.per_shot[n][b].reshape(-1) for n in self.own])
            for b in range(self.count)
        ]
        return torch.cat(shared + own)

    def write(self, vector: Tensor, shot: int) -> None:
        """Put the joint vector's shared part and shot ``shot``'s part into the simulator."""
        _, unflatten = flatten_values(self.sim)
        local = self.local(vector, shot)
        with torch.no_grad():
            for name, value in unflatten(local).items():
                self.sim.values[name].copy_(value)

    def local(self, vector: Tensor, shot: int) -> Tensor:
        """The simulator's flattened vector (names order) for shot ``shot``."""
        start = self.shared_size + shot * self.own_size
        shared_part = iter(torch.split(vector[: self.shared_size], self._sizes(self.shared)))
        own_part = iter(torch.split(vector[start : start + self.own_size], self._sizes(self.own)))
        return torch.cat(
            [next(shared_part if n in self.shared else own_part) for n in self.sim.names]
        )

    def columns(self, shot: int) -> Tensor:
        """Where each of the simulator's flattened values sits in the joint vector."""
        out, shared_at, own_at = [], 0, self.shared_size + shot * self.own_size
        for name in self.sim.names:
            size = int(self.sim.values[name].numel())
            if name in self.shared:
                out.append(torch.arange(shared_at, shared_at + size))
                shared_at += size
            else:
                out.append(torch.arange(own_at, own_at + size))
                own_at += size
        return torch.cat(out)

    def _sizes(self, names: list[str]) -> list[int]:
        return [int(self.sim.values[n].numel()) for n in names]


def fit_shots(
    sim: Simulator,
    observed: Tensor,
    per_shot: Mapping[str, Tensor],
    *,
    shared: Sequence[str] = ("cell",),
    loss: str = "poisson",
    max_iter: int = 30,
    margin: int = 2,
    spots: bool = True,
) -> ShotsResult:
    """Refine many stills together: shared values and each shot's own values.

    Args:
        sim: A simulator whose trainable names are the shared ones plus the per-shot ones
            (its values of the shared ones are the start).
        observed: ``(B, spixels, fpixels)`` observed images (photons or counts).
        per_shot: Per-shot name -> ``(B, ...)`` starting values (user units).
        shared: Names refined as one value for every shot.
        loss: ``"poisson"`` or ``"lsq"``.
        max_iter: Joint Levenberg-Marquardt steps at most.
        margin: Pixels around the spots that are fitted.
        spots: First bring each shot's own values close from its spots.

    Returns:
        The refined shared and per-shot values with their uncertainties.
    """
    start = time.perf_counter()
    shots = _Shots(sim, per_shot, shared)
    observed = observed.to(dtype=sim.base.dtype, device=sim.base.device)
    found = [find_spots(observed[shot]) for shot in range(shots.count)]
    masks = [spots_of_shot.mask for spots_of_shot in found]
    if spots:
        _joint_spot_stage(shots, found)
    previous: list[Tensor] | None = None
    iterations = 0
    for _ in range(3):  # choose the pixels again at the refined model until they settle
        pixel_sets = []
        for shot in range(shots.count):
            shots.load(shot)
            pixel_sets.append(select_pixels(sim, masks[shot], margin=margin))
        if previous is not None and all(
            torch.equal(a, b) for a, b in zip(pixel_sets, previous, strict=True)
        ):
            break
        targets = [observed[b].reshape(-1)[pixel_sets[b]] for b in range(shots.count)]
        vector, outcome = _joint_lm(shots, pixel_sets, targets, loss, max_iter)
        for shot in range(shots.count):
            shots.write(vector, shot)
            shots.save(shot)
        iterations += len(outcome[0]) - 1
        previous = pixel_sets
    result = _result(shots, vector, outcome, previous, time.perf_counter() - start, loss)
    result.iterations = iterations
    return result


def _joint_spot_stage(shots: _Shots, found: list[Spots]) -> None:
    """Every still's spots at once: shared values and each still's own, Levenberg-Marquardt.

    As :func:`nb_core.refine._spots.refine_spot_positions` does for one image, with every
    still's residuals in one fit: rounds over growing shells of each still's innermost spots
    (:data:`~nb_core.refine._spots.SHELLS`), a spot keeping the index it was first given, and
    the same weak prior around the start.
    """
    sim = shots.sim
    _, unflatten = flatten_values(sim)
    steps = parameter_steps(sim)
    vector = shots.vector()
    start = vector.clone()
    prior = 100.0 * torch.cat(
        [steps[n].reshape(-1) for n in shots.shared]
        + [torch.cat([steps[n].reshape(-1) for n in shots.own])] * shots.count
    ).to(vector)
    assigned: list[Tensor | None] = [None] * shots.count
    known = [torch.zeros(f.fast.shape, dtype=torch.bool, device=f.fast.device) for f in found]
    for shell in SHELLS:
        indexed = []
        for shot in range(shots.count):
            shots.write(vector, shot)
            hkl, close, resolution = assign_indices(sim, found[shot], 0.25)
            previous = assigned[shot]
            if previous is not None:
                hkl = torch.where(known[shot][:, None], previous, hkl)
            if close.any():
                close = close & (resolution <= torch.quantile(resolution, shell))
            assigned[shot], known[shot] = hkl, known[shot] | close
            indexed.append(_indexed_spots(sim, found[shot], hkl, close, vector))
        vector = least_squares(_joint_residual(shots, indexed, start, prior, unflatten), vector, 10)
    for shot in range(shots.count):
        shots.write(vector, shot)
        shots.save(shot)


def _indexed_spots(
    sim: Simulator, found: Spots, hkl: Tensor, close: Tensor, like: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One still's indexed spots: indices, weights, reflecting ranges and centroids."""
    weight = torch.sqrt(found.intensity / torch.median(found.intensity))
    width = reflecting_range(sim, hkl[close])[:, None]
    centroids = torch.stack((found.fast, found.slow), dim=1)[close]
    return hkl[close], weight[close].to(like)[:, None], width, centroids.to(like)


def _joint_residual(shots: _Shots, indexed, start: Tensor, prior: Tensor, unflatten):
    """Every still's spot residuals and the prior, as one function of the joint vector."""
    sim = shots.sim

    def residual(vec: Tensor) -> Tensor:
        parts = [(vec - start) / prior]
        for shot, (hkl, weight, width, centroids) in enumerate(indexed):
            if hkl.shape[0] == 0:
                continue
            values = unflatten(shots.local(vec, shot))
            predicted, excitation = predicted_positions(sim, values, hkl)
            both = torch.cat((predicted - centroids, excitation[:, None] / width), dim=1)
            parts.append((weight * both).reshape(-1))
        return torch.cat(parts)

    return residual


def _joint_loss(shots: _Shots, vector: Tensor, pixel_sets, targets, kind: str) -> float:
    total = 0.0
    with torch.no_grad():
        for shot in range(shots.count):
            shots.write(vector, shot)
            model = shots.sim.render_with(shots.sim.user_values(), pixel_sets[shot])
            total += float(pixel_loss(model, targets[shot], kind))
    return total if total == total else float("inf")


def _joint_normal(shots: _Shots, vector: Tensor, pixel_sets, targets, kind: str):
    size = int(vector.numel())
    gradient = vector.new_zeros(size)
    hess = vector.new_zeros(size, size)
    total = 0.0
    for shot in range(shots.count):
        shots.write(vector, shot)
        local, _ = flatten_values(shots.sim)
        model, jac = jacobian(shots.sim, local, pixel_sets[shot])
        total += float(pixel_loss(model, targets[shot], kind))
        g, h = normal_equations(model, jac, targets[shot], kind)
        where = shots.columns(shot)
        gradient.index_add_(0, where, g)
        hess[where[:, None], where[None, :]] += h
    return total, gradient, hess


def _joint_lm(shots: _Shots, pixel_sets, targets, kind: str, max_iter: int):
    vector = shots.vector()
    steps = parameter_steps(shots.sim)
    scale = torch.cat(
        [steps[n].reshape(-1) for n in shots.shared]
        + [torch.cat([steps[n].reshape(-1) for n in shots.own])] * shots.count
    ).to(vector)
    damping, history, converged, hess = 1e-3, [], False, None
    for _ in range(max_iter):
        current, gradient, hess = _joint_normal(shots, vector, pixel_sets, targets, kind)
        history.append(current)
        g, h = gradient * scale, hess * scale[:, None] * scale[None, :]
        diagonal = torch.clamp(torch.diagonal(h), min=1e-12 * float(torch.diagonal(h).max()))
        accepted = False
        for _ in range(10):
            step = torch.linalg.lstsq(h + damping * torch.diag(diagonal), -g[:, None]).solution[
                :, 0
            ]
            trial = vector + step * scale
            value = _joint_loss(shots, trial, pixel_sets, targets, kind)
            if value < current:
                vector, damping, accepted = trial, max(damping / 3.0, 1e-12), True
                break
            damping *= 4.0
        sigma = torch.sqrt(torch.clamp(torch.diagonal(torch.linalg.pinv(hess)), min=1e-300))
        if not accepted or bool(((step * scale).abs() <= 0.01 * sigma).all()):
            converged = True
            break
    history.append(_joint_loss(shots, vector, pixel_sets, targets, kind))
    return vector, (history, converged, hess)


def _result(
    shots: _Shots, vector: Tensor, outcome, pixel_sets, seconds: float, kind: str
) -> ShotsResult:
    history, converged, hess = outcome
    cov = None
    if hess is not None:
        # Poisson: the inverse Fisher information. Least squares: sigma^2 (J^T J)^-1, with
        # J^T J = hess / 2 and sigma^2 the residual variance per pixel.
        cov = torch.linalg.pinv(hess)
        if kind == "lsq":
            dof = max(1, sum(int(p.numel()) for p in pixel_sets) - int(vector.numel()))
            cov = cov * 2.0 * history[-1] / dof
    sigmas = torch.sqrt(torch.clamp(torch.diagonal(cov), min=0.0)) if cov is not None else None
    per_shot, per_sigma = [], []
    for shot in range(shots.count):
        shots.write(vector, shot)
        shots.save(shot)
        state = shots.sim.state()
        per_shot.append({n: state[n] for n in shots.own})
        where = shots.columns(shot)
        local = sigmas[where] if sigmas is not None else None
        per_sigma.append(_split(shots, local, shots.own))
    state = shots.sim.state()
    shared_local = sigmas[shots.columns(0)] if sigmas is not None else None
    return ShotsResult(
        shared={n: state[n] for n in shots.shared},
        shots=per_shot,
        shared_sigmas=_split(shots, shared_local, shots.shared),
        shot_sigmas=per_sigma,
        loss=history[-1],
        iterations=len(history) - 1,
        converged=converged,
        seconds=seconds,
        pixels=sum(int(p.numel()) for p in pixel_sets),
        history=history,
    )


def _split(shots: _Shots, local: Tensor | None, names: list[str]) -> dict[str, float | list[float]]:
    """Sigmas (in the simulator's names order) of the given names, as plain numbers."""
    if local is None:
        return {}
    out: dict[str, float | list[float]] = {}
    offset = 0
    for name in shots.sim.names:
        size = int(shots.sim.values[name].numel())
        part = local[offset : offset + size].detach().cpu().double().tolist()
        offset += size
        if name in names:
            out[name] = part if shots.sim.values[name].dim() else part[0]
    return out
