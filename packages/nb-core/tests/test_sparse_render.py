"""render_sparse: the full render's values and derivatives at chosen pixels, nothing more."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch

from nb_cli.flags import parse_args
from nb_core import Experiment, load_inputs, render, render_sparse, resolve
from nb_core.render import RunState, render_constants, render_pixels
from nb_core.render import _image as image_module
from nb_core.render import _sparse as sparse_module
from nb_core.render._sparse import _first_passing_pixel

F64 = torch.float64
#: Relative agreement with the full render (chunks of other sizes round matrix products in
#: other orders: a few 1e-14 seen).
RTOL = 1e-12

BASE = (
    "-cell 70 80 90 85 95 105 -lambda 1 -N 5 -default_F 100 -detpixels 48 -pixel 0.3 "
    "-distance 100 -misset 10 5 3"
).split()
#: Two phi steps, the first exactly at 0: the phi0 quirk gives the run's first loop its own
#: lattice, so the first rendered pixel differs from the same pixel rendered on its own.
PHI0 = ["-phi", "0", "-osc", "1", "-phisteps", "2"]
#: Cuts the detector's corners (about 9.9 Å there) but not its centre.
DMIN = ["-dmin", "12"]
CASES = {
    "plain": [],
    "phi0": PHI0,
    "phi0 dmin": [*PHI0, *DMIN],
    "roi phi0": [*PHI0, "-roi", "5", "30", "8", "40"],
    "mosaic oversample_omega": [
        *("-mosaic", "0.3", "-mosaic_dom", "3", "-oversample", "2", "-oversample_omega"),
    ],
    "round dispersion": ["-round_xtal", "-dispersion", "1", "-dispsteps", "3"],
}


def experiment(argv: Sequence[str], dtype: torch.dtype = F64) -> Experiment:
    parsed = parse_args(list(argv))
    return resolve(parsed.settings, load_inputs(parsed.settings), dtype=dtype)


def assert_relative(actual: torch.Tensor, expected: torch.Tensor, rtol: float = RTOL) -> None:
    scale = expected.abs().max().clamp_min(1e-300)
    worst = float(((actual - expected).abs() / expected.abs().clamp_min(1e-12 * scale)).max())
    assert worst <= rtol, worst


def random_pixels(count: int, npixels: int, seed: int) -> torch.Tensor:
    """Flat indices in random order, with repeats."""
    generator = torch.Generator().manual_seed(seed)
    picked = torch.randperm(npixels, generator=generator)[:count]
    return torch.cat((picked, picked[:5]))


@pytest.mark.parametrize("case", list(CASES))
def test_equals_the_full_render_at_the_pixels(case: str) -> None:
    exp = experiment([*BASE, *CASES[case]])
    full = render(exp.params, exp.static).reshape(-1)
    pixels = random_pixels(300, full.numel(), seed=1)
    # A small budget: several chunks, carrying the run state from one to the next.
    values = render_sparse(exp.params, exp.static, pixels, max_evaluations=4000)
    assert values.shape == pixels.shape
    assert values.dtype == F64
    assert_relative(values, full[pixels])


def test_a_mask_gives_the_true_pixels_in_raster_order() -> None:
    exp = experiment([*BASE, *PHI0])
    image = render(exp.params, exp.static)
    mask = torch.zeros_like(image, dtype=torch.bool)
    mask[0, :5] = True
    mask[20:30, 10:25] = True
    assert_relative(render_sparse(exp.params, exp.static, mask), image[mask])


def test_outside_the_roi_and_masked_pixels_are_zero() -> None:
    exp = experiment([*BASE, "-roi", "5", "30", "8", "40"])
    detector_mask = torch.ones(48, 48, dtype=torch.bool)
    detector_mask[20:25, :] = False
    params = exp.params.replace(mask=detector_mask)
    image = render(params, exp.static)
    pixels = torch.tensor([0, 47, 8 * 48 + 5, 22 * 48 + 10, 30 * 48 + 30, 41 * 48 + 6])
    values = render_sparse(params, exp.static, pixels)
    assert values[[0, 1, 3, 5]].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert bool((values[[2, 4]] > 0).all())
    assert_relative(values, image.reshape(-1)[pixels])


def test_the_first_phi_loop_applies_only_where_the_full_render_runs_it() -> None:
    exp = experiment([*BASE, *PHI0])
    full = render(exp.params, exp.static).reshape(-1)
    alone, _ = render_pixels(torch.tensor([0]), exp.params, exp.static)
    # The quirk changes the first rendered pixel (so the check below means something).
    assert abs(float(alone[0] - full[0])) > 1e-6 * float(full[0])
    assert_relative(render_sparse(exp.params, exp.static, torch.tensor([0, 100])), full[[0, 100]])
    assert_relative(
        render_sparse(exp.params, exp.static, torch.tensor([100, 101])), full[[100, 101]]
    )


def test_a_mask_moves_the_first_rendered_pixel() -> None:
    exp = experiment([*BASE, *PHI0, "-roi", "3", "40", "0", "47"])
    detector_mask = torch.ones(48, 48, dtype=torch.bool)
    detector_mask[0, :10] = False
    params = exp.params.replace(mask=detector_mask)
    full = render(params, exp.static).reshape(-1)
    first = 10  # row 0, the first unmasked column inside the ROI
    alone, _ = render_pixels(torch.tensor([first]), params, exp.static)
    assert abs(float(alone[0] - full[first])) > 1e-6 * float(full[first])
    for pixels in ([first, 500], [first + 1, 500]):
        index = torch.tensor(pixels)
        assert_relative(render_sparse(params, exp.static, index), full[index])


def test_with_dmin_the_first_loop_is_at_the_first_pixel_inside_the_cut() -> None:
    exp = experiment([*BASE, *PHI0, *DMIN])
    full = render(exp.params, exp.static).reshape(-1)
    first = int(
        _first_passing_pixel(exp.params, exp.static, render_constants(exp.params, exp.static))
    )
    assert first > 0
    assert float(full[:first].abs().max()) == 0.0  # cut before it
    alone, _ = render_pixels(torch.tensor([first]), exp.params, exp.static)
    assert abs(float(alone[0] - full[first])) > 1e-6 * float(full[first])
    for pixels in ([first, 900], [0, first], [first + 1, 900]):
        index = torch.tensor(pixels)
        assert_relative(render_sparse(exp.params, exp.static, index), full[index])


def test_interpolated_structure_factors_inside_the_grid(shared_dir) -> None:
    hkl = shared_dir / "data" / "scaled.hkl"
    exp = experiment([*BASE, "-hkl", str(hkl), "-interpolate", "-N", "3"])
    assert exp.static.interpolate
    full = render(exp.params, exp.static).reshape(-1)
    pixels = random_pixels(200, full.numel(), seed=2)
    assert_relative(
        render_sparse(exp.params, exp.static, pixels, max_evaluations=2000), full[pixels]
    )


@pytest.mark.parametrize(
    ("pixels", "message"),
    [
        (torch.tensor([0.0, 1.0]), "1-D int64"),
        (torch.zeros(2, 2, dtype=torch.int64), "1-D int64"),
        (torch.zeros(48, 47, dtype=torch.bool), "shape \\(48, 48\\)"),
        (torch.tensor([0, 48 * 48]), "index 2304 is outside the detector"),
        (torch.tensor([-1, 3]), "index -1 is outside the detector"),
        ([0, 1, 2], "got list"),
    ],
)
def test_bad_pixels_are_refused(pixels: object, message: str) -> None:
    exp = experiment(BASE)
    with pytest.raises(ValueError, match=message):
        render_sparse(exp.params, exp.static, pixels)  # type: ignore[arg-type]


def test_an_empty_selection_renders_nothing() -> None:
    exp = experiment(BASE)
    values = render_sparse(exp.params, exp.static, torch.zeros(0, dtype=torch.int64))
    assert values.shape == (0,)


def test_the_work_is_the_chosen_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    exp = experiment([*BASE, *PHI0])
    evaluated: list[int] = []
    original = sparse_module.chunk_values

    def counting(index: torch.Tensor, *args: object) -> tuple[torch.Tensor, RunState]:
        evaluated.append(int(index.shape[0]))
        return original(index, *args)  # type: ignore[arg-type]

    def refuse(*_: object) -> None:
        raise AssertionError("a full-detector pixel list was built")

    monkeypatch.setattr(sparse_module, "chunk_values", counting)
    monkeypatch.setattr(image_module, "rendered_pixels", refuse)
    progress: list[tuple[int, int]] = []
    pixels = torch.tensor([5, 900, 900, 1200, 47])
    render_sparse(
        exp.params,
        exp.static,
        pixels,
        max_evaluations=2 * exp.static.evaluations_per_pixel,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert evaluated == [2, 2]  # four distinct pixels, two per chunk
    assert progress == [(2, 4), (4, 4)]


def _distance_misset(exp: Experiment) -> tuple[torch.Tensor, torch.Tensor]:
    return exp.params.distance.clone(), exp.params.misset.clone()


@pytest.mark.parametrize("case", ["plain", "phi0 dmin", "mosaic oversample_omega"])
def test_gradients_equal_the_full_render_gradients(case: str) -> None:
    exp = experiment([*BASE, *CASES[case]])
    pixels = random_pixels(120, 48 * 48, seed=3)
    weights = torch.linspace(0.5, 2.0, pixels.shape[0], dtype=F64)

    def gradient(sparse: bool) -> list[torch.Tensor]:
        distance, misset = (t.requires_grad_(True) for t in _distance_misset(exp))
        beam = exp.params.beam_center.clone().requires_grad_(True)
        params = exp.params.replace(distance=distance, misset=misset, beam_center=beam)
        if sparse:
            values = render_sparse(params, exp.static, pixels, max_evaluations=3000)
        else:
            values = render(params, exp.static).reshape(-1)[pixels]
        return list(torch.autograd.grad((values * weights).sum(), (distance, misset, beam)))

    for got, expected in zip(gradient(True), gradient(False), strict=True):
        assert bool(torch.isfinite(got).all())
        assert_relative(got, expected, rtol=1e-10)


def test_vmap_and_forward_jacobian() -> None:
    exp = experiment([*BASE, *PHI0, *DMIN])
    pixels = random_pixels(60, 48 * 48, seed=4)
    distances = exp.params.distance * torch.tensor([1.0, 1.01, 0.98], dtype=F64)

    def sparse_at(distance: torch.Tensor) -> torch.Tensor:
        return render_sparse(exp.params.replace(distance=distance), exp.static, pixels)

    batch = torch.func.vmap(sparse_at)(distances)
    for i in range(3):
        one = render(exp.params.replace(distance=distances[i]), exp.static).reshape(-1)[pixels]
        assert_relative(batch[i], one, rtol=1e-10)
    misset = exp.params.misset.clone()
    jacobian = torch.func.jacfwd(
        lambda m: render_sparse(exp.params.replace(misset=m), exp.static, pixels)
    )(misset)
    assert jacobian.shape == (pixels.shape[0], 3)
    value = misset.clone().requires_grad_(True)
    full = render(exp.params.replace(misset=value), exp.static).reshape(-1)[pixels]
    for row in (0, 7, 33):
        (expected,) = torch.autograd.grad(full[row], value, retain_graph=True)
        assert_relative(jacobian[row], expected, rtol=1e-9)
