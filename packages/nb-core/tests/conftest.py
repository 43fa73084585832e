"""Fixtures for the engine's tests: experiments resolved from command-line flags.

``device`` and ``dtype`` come from the repository's root ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch

from nb_cli.flags import parse_args
from nb_core import Experiment, load_inputs, resolve


def experiment_from_flags(
    argv: Sequence[str], dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu"
) -> Experiment:
    """The experiment ``nb simulate`` would render for ``argv``.

    Args:
        argv: nanoBragg flags (files relative to the working folder).
        dtype: Floating dtype of every parameter tensor.
        device: Device of every parameter tensor.

    Returns:
        The resolved experiment.
    """
    parsed = parse_args(list(argv))
    return resolve(parsed.settings, load_inputs(parsed.settings), dtype=dtype, device=device)


@pytest.fixture
def experiment_on_device(device: torch.device) -> Callable[..., Experiment]:
    """:func:`experiment_from_flags` on the test's ``device`` (float64 unless asked)."""

    def build(argv: Sequence[str], dtype: torch.dtype = torch.float64) -> Experiment:
        return experiment_from_flags(argv, dtype=dtype, device=device)

    return build
