"""What a fit returns: refined values, uncertainties, correlations and how it got there."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from nb_core.model import Simulator
from nb_core.refine._uncertainty import ParameterTable, covariance, parameter_table

__all__ = ["FitResult", "finish_result"]

Numbers = dict[str, float | list[float]]


@dataclass
class FitResult:
    """Outcome of a fit.

    Attributes:
        values: Refined values, user units (name -> number or list; the cell as six values).
        start: Starting values, user units.
        uncertainties: One-sigma uncertainties, user units (same shapes as ``values``).
        loss: Final loss (on the pixels of the final stage).
        iterations: Optimizer iterations taken, all stages together.
        history: Loss after each iteration (the start first; a stage's pixels may differ from
            the next stage's, so the loss may jump between stages).
        trajectory: Values after each iteration (the start first).
        seconds: Wall time.
        labels: One name per reported number (``"distance"``, ``"cell.a"``, ...).
        correlation: ``labels`` x ``labels`` correlation matrix of the refined values.
        method: The optimizer (``"lm"``, ``"lbfgs"`` or ``"adam"``).
        converged: Whether the final stage met its stopping rule (not its iteration limit).
        pixels: Pixels the final stage compared (the whole image when it used all).
        stages: One line per stage: what it fitted, iterations, loss.
        notes: Anything the fit decided that a user should know.
    """

    values: Numbers
    start: Numbers
    uncertainties: Numbers = field(default_factory=dict)
    loss: float = math.nan
    iterations: int = 0
    history: list[float] = field(default_factory=list)
    trajectory: list[Numbers] = field(default_factory=list)
    seconds: float = 0.0
    labels: list[str] = field(default_factory=list)
    correlation: list[list[float]] = field(default_factory=list)
    method: str = "lm"
    converged: bool = False
    pixels: int = 0
    stages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, float, float, float, float]]:
        """One row per reported number: (label, start, refined, sigma, shift / sigma)."""
        starts = _flat(self.start, self.values)
        refined = _flat(self.values, self.values)
        sigmas = _flat(self.uncertainties, self.values)
        out = []
        for label, s0, value, sigma in zip(self.labels, starts, refined, sigmas, strict=False):
            shift = (value - s0) / sigma if sigma > 0 else math.nan
            out.append((label, s0, value, sigma, shift))
        return out


def _flat(numbers: Numbers, like: Numbers) -> list[float]:
    out: list[float] = []
    for name in like:
        value = numbers.get(name, math.nan)
        out += value if isinstance(value, list) else [float(value)]
    return out


def _by_name(sim: Simulator, table: ParameterTable) -> Numbers:
    """The table's sigmas shaped as :meth:`Simulator.state` shapes the values."""
    sigmas = table.sigmas.detach().cpu().double().tolist()
    out: Numbers = {}
    offset = 0
    for name, value in sim.state().items():
        size = len(value) if isinstance(value, list) else 1
        part = sigmas[offset : offset + size]
        offset += size
        out[name] = part if isinstance(value, list) else part[0]
    return out


def finish_result(
    result: FitResult,
    sim: Simulator,
    observed: torch.Tensor,
    loss: str,
    cov: torch.Tensor | None = None,
) -> FitResult:
    """Fill in the refined values, uncertainties and correlations at the simulator's values.

    Args:
        result: The fit so far.
        sim: The simulator at its refined values (and the final stage's pixel set).
        observed: The observed image (or the values at the simulator's pixels).
        loss: ``"lsq"`` or ``"poisson"``.
        cov: The covariance if the optimizer already has it (else computed here).

    Returns:
        ``result``, completed.
    """
    result.values = sim.state()
    if cov is None:
        cov = covariance(sim, observed, loss=loss)
    table = parameter_table(sim, cov)
    result.uncertainties = _by_name(sim, table)
    result.labels = list(table.labels)
    result.correlation = table.correlation.detach().cpu().double().tolist()
    return result
