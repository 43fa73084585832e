"""The C program's run-wide state, carried from one chunk of pixels to the next."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["RunState"]


@dataclass(frozen=True)
class RunState:
    """What the C program remembers across pixels; each chunk takes one and returns the next.

    Attributes:
        interpolation_disabled: ``()`` bool: tricubic interpolation is off for the rest of the
            run (the C program switches it off after the first evaluation whose 4x4x4 block
            leaves the grid).
        first_loop_pending: ``()`` bool: the run's very first phi loop is still to come (it
            rotates from the unrotated lattice: the phi0 quirk).
        first_loop_over: Known, without reading ``first_loop_pending``, that the first phi
            loop is over (a Python bool: a chunk then does none of the phi0 quirk's work).
    """

    interpolation_disabled: Tensor
    first_loop_pending: Tensor
    first_loop_over: bool = False

    @staticmethod
    def run_start(device: torch.device) -> RunState:
        """The state before the first pixel: interpolation on, the first phi loop to come."""
        return RunState(
            interpolation_disabled=torch.zeros((), dtype=torch.bool, device=device),
            first_loop_pending=torch.ones((), dtype=torch.bool, device=device),
        )

    @staticmethod
    def after_first_loop(device: torch.device) -> RunState:
        """Interpolation on, the first phi loop over: a chunk evaluated on its own."""
        return RunState(
            interpolation_disabled=torch.zeros((), dtype=torch.bool, device=device),
            first_loop_pending=torch.zeros((), dtype=torch.bool, device=device),
            first_loop_over=True,
        )
