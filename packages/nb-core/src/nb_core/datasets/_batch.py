"""Several images of one shape rendered in one call, vectorized over what differs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

import torch
from torch import Tensor

from nb_core.params import Params, Static
from nb_core.render import DEFAULT_MAX_EVALUATIONS, render

__all__ = ["differing_fields", "render_many"]


def differing_fields(params: Sequence[Params]) -> list[str]:
    """The ``Params`` fields whose tensors are not the same in every one of ``params``.

    Args:
        params: Parameters of images with one ``Static``.

    Returns:
        Field names, in ``Params`` order.

    Raises:
        ValueError: A field differs in shape (the images cannot be rendered together).
    """
    first, names = params[0], []
    for f in fields(Params):
        value = getattr(first, f.name)
        if not isinstance(value, Tensor):
            continue
        others = [getattr(p, f.name) for p in params[1:]]
        if any(not isinstance(o, Tensor) or o.shape != value.shape for o in others):
            raise ValueError(f"Params.{f.name} differs in shape between the images")
        if any(not torch.equal(o, value) for o in others):
            names.append(f.name)
    return names


def render_many(
    params: Sequence[Params], static: Static, *, max_evaluations: int | None = None
) -> Tensor:
    """Render images that share ``static`` in one vectorized call (:func:`torch.func.vmap`).

    Only the fields that differ between the images carry a batch dimension, so what they
    share (the detector's geometry, for frames of a rotation series or stills at several
    orientations) is computed once. Each image is what :func:`nb_core.render.render` gives
    for it (up to rounding: the batched products may sum in another order).

    Args:
        params: One ``Params`` per image (equal shapes).
        static: Their static options.
        max_evaluations: Lattice evaluations per chunk for all images together (None: the
            eager default), so that peak memory stays that of one image.

    Returns:
        ``(B, spixels, fpixels)`` images (photons).
    """
    budget = DEFAULT_MAX_EVALUATIONS if max_evaluations is None else max_evaluations
    if len(params) == 1:
        return render(params[0], static, max_evaluations=budget)[None]
    names = differing_fields(params)
    if not names:
        image = render(params[0], static, max_evaluations=budget)
        return image[None].expand(len(params), *image.shape).clone()
    base = params[0]
    stacked = [torch.stack([getattr(p, name) for p in params]) for name in names]
    per_image = max(1, budget // len(params))

    def one(*values: Tensor) -> Tensor:
        changes = dict(zip(names, values, strict=True))
        return render(base.replace(**changes), static, max_evaluations=per_image)

    return torch.func.vmap(one)(*stacked)
