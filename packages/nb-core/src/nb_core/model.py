"""A thin ``nn.Module`` over the pure render: trainable parameters in user units.

:class:`Simulator` owns the parameters a method developer refines (distance in mm, beam centre
in mm, rotations and cell angles in degrees, cell lengths in Å, ...) as ``nn.Parameter``s, and
renders by writing them into :class:`~nb_core.params.Params` (canonical units) and calling
:func:`~nb_core.render.render`. Everything else stays fixed at the resolved experiment's values.
The mapping from a user-facing name to a field of ``Params`` is one table,
:data:`PARAMETERS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from nb_core.crystal.cell_model import CellConstraint, matrix_orientation, reciprocal_of_cell
from nb_core.crystal.lattice import crystal_basis
from nb_core.params import Experiment, Params, Static
from nb_core.render import render, render_sparse
from nb_core.units import RTD

__all__ = ["PARAMETERS", "ParameterSpec", "Simulator", "parameter_value"]


@dataclass(frozen=True)
class ParameterSpec:
    """How a refinable parameter maps onto ``Params``.

    Attributes:
        name: User-facing name (as ``nb refine --refine`` takes it).
        field: ``Params`` field it writes (``"scale"`` is the simulator's own overall factor).
        index: Component of the field, or None for the whole field.
        unit: Unit of the user value.
        to_canonical: Multiply a user value by this to get the ``Params`` value.
        step: A typical meaningful change, in user units (used to scale refinements).
        lower: Smallest allowed user value (None: unbounded).
        upper: Largest allowed user value (None: unbounded).
    """

    name: str
    field: str
    index: int | tuple[int, ...] | None
    unit: str
    to_canonical: float | tuple[float, ...]
    step: float | tuple[float, ...]
    lower: float | None = None
    upper: float | None = None


_DEG = 1.0 / RTD

#: Every refinable parameter, by user-facing name.
PARAMETERS: dict[str, ParameterSpec] = {
    spec.name: spec
    for spec in (
        ParameterSpec("distance", "distance", None, "mm", 1e-3, 0.05, lower=1e-3),
        ParameterSpec("Xbeam", "beam_center", 0, "mm", 1e-3, 0.01),
        ParameterSpec("Ybeam", "beam_center", 1, "mm", 1e-3, 0.01),
        ParameterSpec("detector_rotx", "detector_rotation", 0, "deg", _DEG, 0.01),
        ParameterSpec("detector_roty", "detector_rotation", 1, "deg", _DEG, 0.01),
        ParameterSpec("detector_rotz", "detector_rotation", 2, "deg", _DEG, 0.01),
        ParameterSpec("twotheta", "twotheta", None, "deg", _DEG, 0.01),
        ParameterSpec(
            "cell",
            "cell",
            None,
            "Å, deg",
            (1.0, 1.0, 1.0, _DEG, _DEG, _DEG),
            (0.01, 0.01, 0.01, 0.01, 0.01, 0.01),
            lower=1e-3,
        ),
        ParameterSpec("misset", "misset", None, "deg", _DEG, 0.01),
        ParameterSpec("phi", "phi0", None, "deg", _DEG, 0.01),
        ParameterSpec("Na", "n_cells", 0, "cells", 1.0, 0.05, lower=1.0),
        ParameterSpec("Nb", "n_cells", 1, "cells", 1.0, 0.05, lower=1.0),
        ParameterSpec("Nc", "n_cells", 2, "cells", 1.0, 0.05, lower=1.0),
        ParameterSpec("lambda", "wavelength", None, "Å", 1e-10, 1e-4, lower=1e-3),
        ParameterSpec("mosaic", "mosaic_spread", None, "deg", _DEG, 0.01, lower=0.0),
        ParameterSpec("fluence", "fluence", None, "photons/m^2", 1.0, 0.0),
        ParameterSpec("polarization", "polarization", None, "", 1.0, 0.01, lower=-1.0, upper=1.0),
        ParameterSpec("scale", "scale", None, "", 1.0, 0.01, lower=0.0),
        ParameterSpec("F_hkl", "f_grid", None, "electrons", 1.0, 1.0),
    )
}


def _spec(name: str, static: Static) -> ParameterSpec:
    if name not in PARAMETERS:
        raise KeyError(f"unknown parameter {name!r}; choose from {', '.join(PARAMETERS)}")
    spec = PARAMETERS[name]
    if name in ("Xbeam", "Ybeam") and static.pivot == "sample" and static.convention != "custom":
        # With the sample pivot the detector is placed from the near point (Fclose, Sclose):
        # that is the beam centre that moves the image (XDS ORGX/ORGY in mm).
        spec = ParameterSpec(spec.name, "close_center", spec.index, spec.unit, 1e-3, spec.step)
    if name == "distance" and static.close_distance_given:
        spec = ParameterSpec(spec.name, "close_distance", None, "mm", 1e-3, spec.step, lower=1e-3)
    return spec


def parameter_value(
    params: Params, static: Static, name: str, *, scale: Tensor | None = None
) -> Tensor:
    """The current value of a named parameter, in user units.

    Args:
        params: Parameters.
        static: Static options (they decide which field a name maps to).
        name: A key of :data:`PARAMETERS`.
        scale: The overall scale (for ``"scale"``); 1 if None.

    Returns:
        ``()`` or ``(k,)`` tensor in the parameter's unit.
    """
    spec = _spec(name, static)
    if spec.field == "scale":
        return torch.ones((), dtype=params.dtype, device=params.device) if scale is None else scale
    if name == "cell" and static.has_matrix:
        value, _ = matrix_orientation(params.reciprocal)
        factor = torch.as_tensor(spec.to_canonical, dtype=params.dtype, device=params.device)
        return value / factor
    value = getattr(params, spec.field)
    if spec.index is not None:
        value = value[spec.index]
    factor = torch.as_tensor(spec.to_canonical, dtype=params.dtype, device=params.device)
    return value / factor


class Simulator(nn.Module):
    """Renders an experiment with some parameters made trainable, in user units.

    Example:
        >>> sim = Simulator(experiment, trainable=["distance", "Xbeam", "cell"])
        >>> image = sim()                     # (spixels, fpixels) photons
        >>> loss = ((image - observed) ** 2).sum()
        >>> loss.backward()                   # sim.values["distance"].grad is d loss / d mm

    The cell (``"cell"``) is refined from either kind of crystal: a ``-cell`` model changes
    its cell parameters; a ``-mat`` model keeps the matrix's orientation and changes the cell
    inside it. ``lattice`` holds it to a lattice system, so that ``values["cell"]`` holds only
    the free parameters (e.g. a and c of a tetragonal cell); :meth:`cell` gives all six.

    With ``pixels`` (flat indices, slow * fpixels + fast) the simulator renders only those
    pixels and returns ``(N,)`` values; :meth:`set_pixels` changes the set.

    Args:
        experiment: A resolved experiment (see :func:`nb_core.resolve`).
        trainable: Names from :data:`PARAMETERS` to expose as ``nn.Parameter``s.
        pixels: ``(N,)`` int64 flat pixel indices to render, or None for the whole image.
        lattice: Lattice system the refined cell is held to (see
            :data:`nb_core.crystal.cell_model.LATTICES`).
        max_evaluations: Chunk budget passed to the render (None: its default).
    """

    def __init__(
        self,
        experiment: Experiment,
        trainable: Iterable[str] = (),
        *,
        pixels: Tensor | None = None,
        lattice: str = "triclinic",
        max_evaluations: int | None = None,
    ) -> None:
        super().__init__()
        self.base = experiment.params
        static = experiment.static
        self.names = list(dict.fromkeys(trainable))
        if any(name in ("Na", "Nb", "Nc") for name in self.names):
            # Refined cell counts are continuous: the render must not assume integers.
            static = replace(static, integer_cells=None)
        self.static = static
        self.max_evaluations = max_evaluations
        self.constraint = CellConstraint(lattice)
        self.specs = {name: _spec(name, self.static) for name in self.names}
        self.cell_rotation: Tensor | None = None
        if "cell" in self.names and static.has_matrix:
            _, self.cell_rotation = matrix_orientation(self.base.reciprocal)
        self.pixels: Tensor | None = None
        self.set_pixels(pixels)
        self.values = nn.ParameterDict(
            {name: nn.Parameter(self._start_value(name)) for name in self.names}
        )

    def _start_value(self, name: str) -> Tensor:
        value = parameter_value(self.base, self.static, name).detach().clone()
        return self.constraint.reduce(value) if name == "cell" else value

    def set_pixels(self, pixels: Tensor | None) -> None:
        """Render only these pixels from now on (None: the whole image).

        Args:
            pixels: ``(N,)`` int64 flat indices (slow * fpixels + fast), or None.

        Raises:
            ValueError: An index outside the detector.
        """
        if pixels is None:
            self.pixels = None
            return
        pixels = torch.as_tensor(pixels, dtype=torch.int64, device=self.base.device).reshape(-1)
        total = self.static.fpixels * self.static.spixels
        if pixels.numel() and (int(pixels.min()) < 0 or int(pixels.max()) >= total):
            raise ValueError(f"pixel indices must lie in [0, {total})")
        self.pixels = pixels

    def user_values(self) -> dict[str, Tensor]:
        """Current values of the trainable parameters, in user units."""
        return {name: self.values[name] for name in self.names}

    def cell(self, values: Mapping[str, Tensor] | None = None) -> Tensor:
        """The six cell parameters (Å, degrees) of the current (or given) free cell values."""
        current = self.user_values() if values is None else values
        return self.constraint.expand(current["cell"])

    def params(self, values: Mapping[str, Tensor] | None = None) -> tuple[Params, Tensor]:
        """``Params`` with the trainable values written in, and the overall scale.

        Args:
            values: User-unit values to use instead of the module's (for torch.func).

        Returns:
            ``(params, scale)``.
        """
        current = self.user_values() if values is None else dict(values)
        params = self.base
        scale = torch.ones((), dtype=params.dtype, device=params.device)
        updates: dict[str, Tensor] = {}
        for name in self.names:
            spec = self.specs[name]
            value = self.cell(current) if name == "cell" else current[name]
            if spec.field == "scale":
                scale = value
                continue
            factor = torch.as_tensor(spec.to_canonical, dtype=value.dtype, device=value.device)
            canonical = value * factor
            if name == "cell" and self.cell_rotation is not None:
                updates["reciprocal"] = reciprocal_of_cell(canonical, self.cell_rotation)
            if spec.index is None:
                updates[spec.field] = canonical
            else:
                field = updates.get(spec.field)
                if field is None:
                    field = getattr(params, spec.field)
                assert isinstance(field, Tensor)
                parts = list(field.unbind(0))
                parts[int(spec.index)] = canonical  # type: ignore[arg-type]
                updates[spec.field] = torch.stack(parts)
        return params.replace(**updates), scale

    def _render(self, params: Params, pixels: Tensor | None) -> Tensor:
        if pixels is None:
            return render(params, self.static, max_evaluations=self.max_evaluations)
        return render_sparse(params, self.static, pixels, max_evaluations=self.max_evaluations)

    def render_with(self, values: Mapping[str, Tensor], pixels: Tensor | None = None) -> Tensor:
        """Render with explicit user-unit values (a pure function of ``values``).

        Args:
            values: Name -> user-unit tensor for every trainable parameter.
            pixels: ``(N,)`` flat pixel indices (default: the simulator's own set).

        Returns:
            ``(spixels, fpixels)`` image, or ``(N,)`` values with a pixel set (photons).
        """
        params, scale = self.params(values)
        return scale * self._render(params, self.pixels if pixels is None else pixels)

    def forward(self) -> Tensor:
        """Render with the module's current parameters (see :meth:`render_with`)."""
        return self.render_with(self.user_values())

    def full_image(self) -> Tensor:
        """The whole ``(spixels, fpixels)`` image (photons) at the current values, no gradient."""
        with torch.no_grad():
            params, scale = self.params()
            return scale * self._render(params, None)

    def render_batch(self, values: Mapping[str, Tensor]) -> Tensor:
        """Render a batch of models in one call (e.g. one orientation per still).

        Args:
            values: Name -> ``(B, ...)`` user-unit tensors; every trainable name must be
                present with the same leading batch size.

        Returns:
            ``(B, spixels, fpixels)`` images (``(B, N)`` with a pixel set).
        """
        names = list(values)
        batch = {name: values[name] for name in names}

        def one(*vals: Tensor) -> Tensor:
            return self.render_with(dict(zip(names, vals, strict=True)))

        return torch.func.vmap(one)(*batch.values())

    def matrix(self, values: Mapping[str, Tensor] | None = None) -> Tensor:
        """The crystal's orientation matrix at phi = 0 in the layout of a ``-mat`` file.

        The misset is folded in, so the matrix alone (without ``-misset``) gives this crystal.

        Args:
            values: User-unit values (default: the module's).

        Returns:
            ``(3, 3)``: columns a*, b*, c* times the wavelength (dimensionless), the three
            lines of a MOSFLM ``A`` matrix file.
        """
        params, _ = self.params(values)
        real = crystal_basis(params, self.static).real * 1e10  # rows a, b, c (Å)
        # The exact reciprocal of the real vectors that index the spots (for a -cell crystal
        # the C program's printed reciprocal vectors differ from it in the fifth digit).
        reciprocal = torch.linalg.inv(real).T
        return (reciprocal * (params.wavelength * 1e10)).T

    def state(self) -> dict[str, float | list[float]]:
        """Current values as plain numbers (user units; the cell as six values), for reports."""
        out: dict[str, float | list[float]] = {}
        for name in self.names:
            if name == "F_hkl":
                continue
            value = self.cell() if name == "cell" else self.values[name]
            value = value.detach().cpu().double()
            out[name] = float(value) if value.dim() == 0 else [float(x) for x in value.reshape(-1)]
        return out
