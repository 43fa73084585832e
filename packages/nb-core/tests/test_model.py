"""The Simulator module: parameter mapping, batching, losses, Adam."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch

from nb_cli.flags import parse_args
from nb_core import Experiment, load_inputs, render, resolve
from nb_core.model import Simulator, parameter_value
from nb_core.refine import fit, loss_fn
from nb_parity.tolerances import TOLERANCE

F64 = torch.float64
SMALL = "-cell 70 80 90 85 95 105 -lambda 1 -N 5 -default_F 100 -detpixels 32 -pixel 0.4 -distance 100 -oversample 1".split()


def _exp(argv: Sequence[str]):
    parsed = parse_args(list(argv))
    return resolve(parsed.settings, load_inputs(parsed.settings), dtype=F64)


def test_user_units_round_trip() -> None:
    exp = _exp([*SMALL, "-detector_rotx", "2.5", "-misset", "10", "5", "3"])
    assert float(parameter_value(exp.params, exp.static, "distance")) == pytest.approx(100.0)
    assert float(parameter_value(exp.params, exp.static, "detector_rotx")) == pytest.approx(2.5)
    assert parameter_value(exp.params, exp.static, "misset").tolist() == pytest.approx(
        [10.0, 5.0, 3.0]
    )
    assert parameter_value(exp.params, exp.static, "cell").tolist() == pytest.approx(
        [70, 80, 90, 85, 95, 105]
    )
    sim = Simulator(exp, ["distance", "misset"])
    # Two paths to one image: the Simulator maps user units back to metres and radians and
    # renders with gradients (hand-written derivative forms), render() takes the resolved
    # values without; their last bits depend on the CPU's vector kernels (on AVX512 Xeons up
    # to 3e-14 photons in a few pixels), so they agree to a tolerance, not bit for bit.
    tolerance = TOLERANCE[F64]
    torch.testing.assert_close(
        sim().detach(),
        render(exp.params, exp.static),
        rtol=tolerance.rtol,
        atol=tolerance.atol,
    )


def test_xds_beam_centre_maps_to_the_near_point() -> None:
    exp = _exp([*SMALL, "-xds", "-ORGX", "20.5", "-ORGY", "12.5"])
    sim = Simulator(exp, ["Xbeam"])
    assert sim.specs["Xbeam"].field == "close_center"
    assert float(sim.values["Xbeam"].detach()) == pytest.approx(8.0)  # (ORGX - 0.5) * 0.4 mm


def test_render_batch_matches_single_renders(
    experiment_on_device: Callable[..., Experiment], dtype: torch.dtype, device: torch.device
) -> None:
    sim = Simulator(experiment_on_device(SMALL, dtype), ["misset"])
    missets = torch.tensor(
        [[0.0, 0.0, 0.0], [10.0, 5.0, 3.0], [20.0, -5.0, 7.0]], dtype=dtype, device=device
    )
    images = sim.render_batch({"misset": missets})
    assert images.shape == (3, 32, 32)
    tolerance = TOLERANCE[dtype]
    for i in range(3):
        # The batch takes the Miller indices from a batched matrix product: the same sums,
        # rounded by another kernel (relative differences of a few 1e-12 in float64).
        torch.testing.assert_close(
            images[i],
            sim.render_with({"misset": missets[i]}),
            rtol=tolerance.rtol,
            atol=tolerance.atol,
        )


def test_lsq_and_poisson_losses_and_an_unknown_name() -> None:
    model = torch.tensor([1.0, 2.0, 4.0], dtype=F64)
    obs = torch.tensor([1.0, 3.0, 2.0], dtype=F64)
    assert float(loss_fn("lsq")(model, obs)) == pytest.approx(5.0)
    expected = float((model - obs * torch.log(model)).sum())
    assert float(loss_fn("poisson")(model, obs)) == pytest.approx(expected)
    with pytest.raises(KeyError):
        loss_fn("l1")


def test_adam_and_poisson_refine_the_distance() -> None:
    truth = _exp(SMALL)
    observed = render(truth.params, truth.static)
    sim = Simulator(_exp([*SMALL, "-distance", "100.4"]), ["distance"])
    result = fit(
        sim, observed, loss="poisson", method="adam", max_iter=60, lr=0.3, blurs=(1.0, 0.0)
    )
    assert result.values["distance"] == pytest.approx(100.0, abs=0.05)


def test_bounds_are_enforced() -> None:
    truth = _exp([*SMALL, "-mosaic", "0.05", "-mosaic_dom", "3"])
    observed = render(truth.params, truth.static)
    sim = Simulator(_exp([*SMALL, "-mosaic", "0.4", "-mosaic_dom", "3"]), ["mosaic", "Na"])
    fit(sim, observed, max_iter=5, blurs=(0.0,), uncertainties=False)
    assert float(sim.values["mosaic"].detach()) >= 0.0
    assert float(sim.values["Na"].detach()) >= 1.0
