"""Spot selection: the coarse prediction, bright observed pixels, margins, ROI and mask."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch

from nb_cli.flags import parse_args
from nb_core import Experiment, load_inputs, render, resolve
from nb_core.spots import (
    SpotSelection,
    bright_pixels,
    brightest,
    dilate,
    predict_spots,
    spot_pixels,
)

F64 = torch.float64
SMALL = (
    "-cell 70 80 90 85 95 105 -misset 10 5 3 -lambda 1 -N 15 -default_F 100 -detpixels 96 "
    "-pixel 0.2 -distance 100"
).split()


def experiment(argv: Sequence[str]) -> Experiment:
    parsed = parse_args(list(argv))
    return resolve(parsed.settings, load_inputs(parsed.settings), dtype=F64)


def test_selection_is_sorted_inside_the_roi_and_mask() -> None:
    exp = experiment([*SMALL, "-roi", "10", "80", "5", "70"])
    mask = torch.ones(96, 96, dtype=torch.bool)
    mask[30:40, :] = False
    params = exp.params.replace(mask=mask)
    selection = spot_pixels(params, exp.static)
    pixels = selection.pixels
    assert isinstance(selection, SpotSelection)
    assert pixels.dtype == torch.int64
    assert bool((pixels[1:] > pixels[:-1]).all())
    slow, fast = pixels // 96, pixels % 96
    assert bool(((fast >= 10) & (fast <= 80) & (slow >= 5) & (slow <= 70)).all())
    assert not bool(((slow >= 30) & (slow < 40)).any())
    assert selection.rendered == 71 * 66 - 10 * 71
    assert selection.fraction == pytest.approx(pixels.shape[0] / selection.rendered)
    assert 0 < selection.predicted <= pixels.shape[0]
    assert selection.observed == 0


def test_every_spot_peak_is_selected() -> None:
    exp = experiment([*SMALL, "-oversample", "2", "-phisteps", "2", "-osc", "0.2"])
    image = render(exp.params, exp.static)
    selection = spot_pixels(exp.params, exp.static, margin=0)
    chosen = torch.zeros(96 * 96, dtype=torch.bool)
    chosen[selection.pixels] = True
    # Local maxima holding a tenth of the brightest pixel: each is a spot's peak.
    local_max = torch.nn.functional.max_pool2d(image[None, None], 3, stride=1, padding=1)[0, 0]
    peaks = (image == local_max) & (image > 0.1 * image.max())
    assert int(peaks.sum()) > 10
    assert bool(chosen.reshape(96, 96)[peaks].all())


def test_the_coarse_prediction_follows_the_render() -> None:
    exp = experiment([*SMALL, "-oversample", "1"])
    prediction = predict_spots(exp.params, exp.static)
    image = render(exp.params, exp.static)
    # One sample per pixel, as the render without -oversample: the same image up to the
    # constant factor r_e^2 fluence / steps (relative units), to float32 rounding.
    ratio = image / prediction.photons.double().clamp_min(1e-300)
    bright = image > 1e-3 * image.max()
    spread = ratio[bright].max() / ratio[bright].min()
    assert float(spread) == pytest.approx(1.0, rel=1e-2)  # the prediction runs in float32


def test_observed_bright_pixels_and_the_margin() -> None:
    exp = experiment(SMALL)
    generator = torch.Generator().manual_seed(5)
    background = torch.poisson(torch.full((96, 96), 20.0, dtype=F64), generator=generator)
    observed = background.clone()
    observed[3, 90] = 500.0  # a bright pixel the model does not predict
    plain = spot_pixels(exp.params, exp.static, margin=0)
    with_observed = spot_pixels(exp.params, exp.static, observed=observed, margin=1)
    chosen = set(with_observed.pixels.tolist())
    assert {2 * 96 + 89, 2 * 96 + 91, 3 * 96 + 90, 4 * 96 + 90} <= chosen
    assert not ({3 * 96 + 90} <= set(plain.pixels.tolist()))
    # 5 sigma above a Poisson background of 20: no background pixel is bright.
    assert with_observed.observed == 1


def test_bright_pixels_threshold() -> None:
    image = torch.tensor([[10.0, 10.0, 11.0, 9.0], [10.0, 10.0, 40.0, 30.0]], dtype=F64)
    # median 10, MAD 0.5 -> noise max(0.74, sqrt(10) = 3.16, 1); threshold 10 + 5 * 3.16 = 25.8
    assert bright_pixels(image).tolist() == [[False] * 4, [False, False, True, True]]
    assert bright_pixels(image, sigmas=8.0).tolist() == [[False] * 4, [False, False, True, False]]
    within = torch.zeros(2, 4, dtype=torch.bool)
    within[1, 2:] = True  # background from 40 and 30: median 35
    assert not bool(bright_pixels(image, within).any())


def test_brightest_and_dilate() -> None:
    photons = torch.tensor([[5.0, 1.0, 0.0], [3.0, 0.5, 0.5]], dtype=F64)
    keep = torch.ones(2, 3, dtype=torch.bool)
    assert brightest(photons, keep, 0.8).tolist() == [[True, False, False], [True, False, False]]
    assert brightest(photons, keep, 0.9).tolist() == [[True, True, False], [True, False, False]]
    keep[0, 0] = False
    assert brightest(photons, keep, 0.7).tolist() == [[False, True, False], [True, False, False]]
    mask = torch.zeros(5, 5, dtype=torch.bool)
    mask[2, 2] = True
    assert int(dilate(mask, 1).sum()) == 9
    assert int(dilate(mask, 2).sum()) == 25
    assert torch.equal(dilate(mask, 0), mask)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"margin": -1}, "margin"),
        ({"capture": 1.5}, "capture"),
        ({"observed": torch.zeros(3, 3)}, "shape \\(96, 96\\)"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    exp = experiment(SMALL)
    with pytest.raises(ValueError, match=message):
        spot_pixels(exp.params, exp.static, **options)  # type: ignore[arg-type]
