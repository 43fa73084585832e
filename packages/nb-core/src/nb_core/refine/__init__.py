"""Fitting a :class:`~nb_core.model.Simulator` to an observed image, with uncertainties.

- :func:`fit` -- spot positions, then Levenberg-Marquardt on the pixels near the spots
  (:mod:`._fit`, :mod:`._spots`, :mod:`._levenberg`), or L-BFGS / Adam over the whole image
  with coarse-to-fine smoothing (:mod:`._gradient`);
- :func:`fit_shots` -- many stills at once with a shared cell (:mod:`._shots`);
- :func:`covariance`, :func:`hessian`, :func:`parameter_table` -- uncertainties and
  correlations (:mod:`._uncertainty`); :class:`FitResult` (:mod:`._result`).
"""

from nb_core.refine._fit import METHODS, fit, select_pixels
from nb_core.refine._gradient import DEFAULT_BLUR, blur, fit_gradient, loss_fn, parameter_steps
from nb_core.refine._levenberg import LMOptions, LMOutcome, levenberg_marquardt, pixel_loss
from nb_core.refine._result import FitResult, finish_result
from nb_core.refine._shots import ShotsResult, fit_shots
from nb_core.refine._spots import GEOMETRY, Spots, find_spots, refine_spot_positions, spot_mask
from nb_core.refine._uncertainty import (
    ParameterTable,
    covariance,
    flatten_values,
    hessian,
    jacobian,
    parameter_table,
)

__all__ = [
    "DEFAULT_BLUR",
    "GEOMETRY",
    "METHODS",
    "FitResult",
    "LMOptions",
    "LMOutcome",
    "ParameterTable",
    "ShotsResult",
    "Spots",
    "blur",
    "covariance",
    "find_spots",
    "finish_result",
    "fit",
    "fit_gradient",
    "fit_shots",
    "flatten_values",
    "hessian",
    "jacobian",
    "levenberg_marquardt",
    "loss_fn",
    "parameter_steps",
    "parameter_table",
    "pixel_loss",
    "refine_spot_positions",
    "select_pixels",
    "spot_mask",
]
