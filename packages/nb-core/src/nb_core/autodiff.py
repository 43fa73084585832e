"""Whether a computation must carry derivatives: autograd and the ``torch.func`` transforms.

The render picks, per stage, a fast value-only form or a form whose derivatives are finite
and exact everywhere (hand-written backward and forward rules, Taylor forms at the singular
points). ``Tensor.requires_grad`` alone cannot make that choice: inside ``torch.func.vmap``,
``jacfwd``, ``jacrev`` or ``grad`` the tensors a function sees are wrappers whose
``requires_grad`` is False even when the transform differentiates through them, so a
value-only form (for example ``where(d == 0, n, sin(n x) / sin(x))``, whose backward is
``0 * inf = NaN`` at ``d = 0``) would be differentiated.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["is_transformed", "tracks_gradient"]

try:
    from torch._C._functorch import is_functorch_wrapped_tensor as _is_transformed
except ImportError:  # pragma: no cover - every supported torch has it

    def _is_transformed(tensor: Tensor) -> bool:
        return False


def is_transformed(tensor: Tensor) -> bool:
    """Whether ``tensor`` is a ``torch.func`` wrapper (batched, or at a tangent or gradient level).

    Such a tensor may hold a different value per batch element: a Python decision on its
    value (``bool(t)``) is not possible there.
    """
    if torch.compiler.is_compiling():
        return False
    return bool(_is_transformed(tensor))


def tracks_gradient(*tensors: Tensor) -> bool:
    """Whether derivatives may be taken through an operation on ``tensors``.

    True when grad mode is on and any tensor requires a gradient or is a ``torch.func``
    wrapper (batched by ``vmap``, or carrying a tangent or gradient level). A wrapper is
    treated as tracked even when the transform does not differentiate it (a plain
    ``vmap``): the differentiable forms give the same values, only more slowly.

    Args:
        tensors: Inputs of the operation.

    Returns:
        Whether to use the differentiable form.
    """
    if not torch.is_grad_enabled():
        return False
    if torch.compiler.is_compiling():
        # Traced code sees plain (fake) tensors, and the wrapper test cannot be traced.
        return any(t.requires_grad for t in tensors)
    return any(t.requires_grad or _is_transformed(t) for t in tensors)
