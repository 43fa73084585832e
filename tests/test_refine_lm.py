"""Lattice constraints, cells from matrices, spot finding, Levenberg-Marquardt and many shots."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nb_cli.flags import parse_args
from nb_core.crystal.cell_model import (
    LATTICES,
    CellConstraint,
    cell_of_reciprocal,
    default_reciprocal,
    matrix_orientation,
    reciprocal_of_cell,
)
from nb_core.model import Simulator
from nb_core.params import Experiment
from nb_core.refine import (
    LMOptions,
    covariance,
    find_spots,
    fit,
    fit_shots,
    levenberg_marquardt,
    parameter_table,
)
from nb_core.render import render
from nb_core.resolve import load_inputs, resolve

F64 = torch.float64
DEG = math.pi / 180.0


BASE = {
    "-cell": "60 70 80 88 94 101",
    "-default_F": "200",
    "-lambda": "1",
    "-N": "10",
    "-detpixels": "96",
    "-pixel": "0.3",
    "-distance": "80",
    "-oversample": "1",
    "-misset": "10 5 3",
}


def _experiment(**changes: str | None) -> Experiment:
    """The experiment of :data:`BASE` with flags changed (``cell=None`` drops -cell)."""
    flags = dict(BASE)
    for key, value in changes.items():
        flag = "-" + key
        if value is None:
            flags.pop(flag, None)
        else:
            flags[flag] = value
    argv = [part for flag, value in flags.items() for part in (flag, *value.split())]
    parsed = parse_args(argv)
    return resolve(parsed.settings, load_inputs(parsed.settings), dtype=F64)


@pytest.mark.parametrize("lattice", LATTICES)
def test_each_lattice_maps_its_free_parameters_onto_a_cell_it_keeps(lattice: str) -> None:
    constraint = CellConstraint(lattice)
    cell = constraint.expand(torch.arange(1.0, len(constraint.free) + 1, dtype=F64) * 30.0)
    assert torch.allclose(constraint.expand(constraint.reduce(cell)), cell, rtol=1e-14)
    assert constraint.matrix(cell).shape == (6, len(constraint.free))


def test_constraints_tie_and_fix_the_values_their_system_requires() -> None:
    hexagonal = CellConstraint("hexagonal").expand(torch.tensor([50.0, 60.0], dtype=F64))
    assert hexagonal.tolist() == [50.0, 50.0, 60.0, 90.0, 90.0, 120.0]
    rhombohedral = CellConstraint("rhombohedral").expand(torch.tensor([40.0, 80.0], dtype=F64))
    assert rhombohedral.tolist() == [40.0, 40.0, 40.0, 80.0, 80.0, 80.0]
    monoclinic = CellConstraint("monoclinic").reduce(torch.tensor([50, 60, 70, 90, 101, 90.0]))
    assert monoclinic.tolist() == [50.0, 60.0, 70.0, 101.0]
    with pytest.raises(KeyError, match="unknown lattice"):
        CellConstraint("trigonal")


def test_a_matrix_splits_into_its_cell_and_a_rotation() -> None:
    cell = torch.tensor([61.0, 72.0, 83.0, 87.0 * DEG, 95.0 * DEG, 104.0 * DEG], dtype=F64)
    angle = torch.tensor(0.7, dtype=F64)
    turn = torch.tensor(
        [[1, 0, 0], [0, math.cos(0.7), -math.sin(0.7)], [0, math.sin(0.7), math.cos(0.7)]],
        dtype=F64,
    )
    reciprocal = default_reciprocal(cell) @ turn
    found, rotation = matrix_orientation(reciprocal)
    assert torch.allclose(found, cell, rtol=1e-13)
    assert torch.allclose(rotation, turn, atol=1e-13)
    assert torch.allclose(reciprocal_of_cell(found, rotation), reciprocal, rtol=1e-13)
    # The reciprocal vectors are those of the cell: their real-space edges have its lengths.
    assert torch.allclose(cell_of_reciprocal(default_reciprocal(cell)), cell, rtol=1e-13)
    assert angle.item() == pytest.approx(0.7)


def test_angles_that_close_no_cell_give_nan_vectors_not_an_error() -> None:
    impossible = torch.tensor([50.0, 50.0, 50.0, 170 * DEG, 170 * DEG, 20 * DEG], dtype=F64)
    assert torch.isnan(default_reciprocal(impossible)).all()


def _assert_cell_within_3_sigma(cell: object, sigmas: object, truth: Experiment) -> None:
    """Each of the six refined cell values lies within 3 sigma of the true model's."""
    assert isinstance(cell, list)
    assert isinstance(sigmas, list)
    true_cell = Simulator(truth, ["cell"]).state()["cell"]
    assert isinstance(true_cell, list)
    for value, sigma, expected in zip(cell, sigmas, true_cell, strict=True):
        assert abs(value - expected) <= 3 * sigma


def _matrix_experiment(tmp_path, **changes: object) -> Experiment:
    truth = _experiment()
    matrix = Simulator(truth).matrix().detach().numpy()
    path = tmp_path / "A.mat"
    path.write_text("".join(" ".join(f"{x:.12f}" for x in row) + "\n" for row in matrix))
    base: dict[str, str | None] = {"mat": str(path), "misset": None, "cell": None}
    base.update(changes)  # type: ignore[arg-type]
    return _experiment(**base)


def test_a_matrix_model_renders_and_differentiates_through_its_cell(tmp_path) -> None:
    truth = _experiment()
    from_matrix = _matrix_experiment(tmp_path)
    expected = render(truth.params, truth.static)
    sim = Simulator(from_matrix, ["cell", "misset"])
    image = sim()
    # The matrix file holds 12 decimals.
    assert ((image - expected).norm() / expected.norm()).item() < 1e-7
    # A -cell crystal's angles come out of the C program's construction 0.0015 deg off.
    assert sim.state()["cell"] == pytest.approx([60, 70, 80, 88, 94, 101], abs=0.002)
    weights = torch.linspace(0.5, 1.5, image.numel(), dtype=F64).reshape(image.shape)
    (weights * image).sum().backward()
    gradient = sim.values["cell"].grad
    assert gradient is not None
    for index in (0, 4):
        shifted = {n: sim.values[n].detach().clone() for n in sim.names}
        shifted["cell"][index] += 1e-5
        up = (weights * sim.render_with(shifted)).sum()
        shifted["cell"][index] -= 2e-5
        down = (weights * sim.render_with(shifted)).sum()
        numeric = float((up - down) / 2e-5)
        assert float(gradient[index]) == pytest.approx(numeric, rel=1e-5)


def test_the_orientation_matrix_of_a_model_folds_its_misset_in(tmp_path) -> None:
    truth = _experiment()
    from_matrix = _matrix_experiment(tmp_path)
    expected = render(truth.params, truth.static)
    assert (
        (render(from_matrix.params, from_matrix.static) - expected).norm() / expected.norm()
    ) < 1e-7


def test_spot_centroids_of_gaussian_blobs() -> None:
    slow, fast = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    image = torch.zeros(64, 64, dtype=F64)
    centres = [(10.3, 20.7), (40.25, 50.5), (30.0, 8.6)]
    for s0, f0 in centres:
        image += 500.0 * torch.exp(-((slow - s0) ** 2 + (fast - f0) ** 2) / 2.0)
    found = find_spots(image)
    assert found.fast.numel() == 3
    got = sorted(zip(found.slow.tolist(), found.fast.tolist(), strict=True))
    for (s0, f0), (s1, f1) in zip(sorted(centres), got, strict=True):
        assert abs(s1 - s0) < 0.05
        assert abs(f1 - f0) < 0.05


def test_levenberg_marquardt_lands_on_a_noise_free_image() -> None:
    truth = _experiment()
    observed = render(truth.params, truth.static).reshape(-1)
    start = _experiment(distance="80.2", Xbeam="14.5", Ybeam="14.6")
    sim = Simulator(start, ["distance", "Xbeam", "Ybeam"])
    outcome = levenberg_marquardt(sim, observed, loss="lsq", options=LMOptions(max_iter=30))
    state = sim.state()
    assert state["distance"] == pytest.approx(80.0, abs=1e-6)
    assert state["Xbeam"] == pytest.approx(14.55, abs=1e-6)
    assert state["Ybeam"] == pytest.approx(14.55, abs=1e-6)
    assert outcome.history[-1] < 1e-12 * outcome.history[0]


def test_fit_of_a_matrix_model_recovers_cell_orientation_and_detector(tmp_path) -> None:
    frame = {"detpixels": "160", "pixel": "0.2", "flux": "1e18", "exposure": "1", "beamsize": "0.1"}
    truth = _experiment(**frame)
    image = render(truth.params, truth.static)
    observed = torch.tensor(np.random.default_rng(5).poisson(image.numpy()), dtype=F64)
    start = _matrix_experiment(
        tmp_path, **frame, distance="81.5", Xbeam="16.2", Ybeam="15.9", misset="0.3 -0.3 0.3"
    )
    sim = Simulator(start, ["distance", "Xbeam", "Ybeam", "misset", "cell"])
    result = fit(sim, observed)
    truth_values = {"distance": 80.0, "Xbeam": 16.1, "Ybeam": 16.1}
    for name, value in truth_values.items():
        sigma = result.uncertainties[name]
        assert isinstance(sigma, float)
        assert sigma > 0
        assert abs(result.values[name] - value) <= 3 * sigma + 1e-9  # type: ignore[operator]
    cell, sigmas = result.values["cell"], result.uncertainties["cell"]
    _assert_cell_within_3_sigma(cell, sigmas, truth)
    assert result.converged
    assert result.stages[0].startswith("spots:")


def test_a_constrained_cell_reports_six_values_with_tied_sigmas() -> None:
    truth = _experiment(cell="70 70 90 90 90 90", misset="10 20 30")
    observed = render(truth.params, truth.static)
    noisy = observed + 0.01 * torch.linspace(-1, 1, observed.numel(), dtype=F64).reshape(
        observed.shape
    )
    start = _experiment(cell="70.2 70.2 90.3 90 90 90", misset="10 20 30")
    sim = Simulator(start, ["cell"], lattice="tetragonal")
    assert sim.values["cell"].shape == (2,)
    result = fit(sim, noisy, loss="lsq")
    assert result.values["cell"] == pytest.approx([70, 70, 90, 90, 90, 90], abs=1e-4)
    table = parameter_table(sim, covariance(sim, noisy, loss="lsq"))
    assert table.labels == ("cell.a", "cell.b", "cell.c", "cell.alpha", "cell.beta", "cell.gamma")
    assert table.sigmas[0] == table.sigmas[1]
    assert float(table.sigmas[3:].abs().max()) == 0.0
    assert float(table.correlation[0, 1]) == pytest.approx(1.0)


def test_many_stills_share_one_cell() -> None:
    frame = {
        "detpixels": "128",
        "pixel": "0.25",
        "flux": "1e18",
        "exposure": "1",
        "beamsize": "0.1",
    }
    truth = _experiment(**frame, misset=None)
    orientations = torch.tensor(
        [[10.0, 5.0, 3.0], [-40.0, 20.0, 70.0], [100.0, -30.0, 15.0], [5.0, 60.0, -120.0]],
        dtype=F64,
    )
    images = Simulator(truth, ["misset"]).render_batch({"misset": orientations}).detach()
    observed = torch.tensor(np.random.default_rng(2).poisson(images.numpy()), dtype=F64)
    start = _experiment(**frame, misset=None, cell="60.3 70.35 80.4 88.2 93.8 101.3")
    sim = Simulator(start, ["cell", "misset"])
    offsets = torch.tensor(
        [[0.2, -0.2, 0.1], [-0.1, 0.2, 0.2], [0.2, 0.1, -0.2], [-0.2, -0.1, 0.1]]
    )
    result = fit_shots(sim, observed, {"misset": orientations + offsets.to(F64)})
    cell, sigmas = result.shared["cell"], result.shared_sigmas["cell"]
    _assert_cell_within_3_sigma(cell, sigmas, truth)
    for shot, shot_sigma, expected in zip(
        result.shots, result.shot_sigmas, orientations.tolist(), strict=True
    ):
        for value, sigma, angle in zip(shot["misset"], shot_sigma["misset"], expected, strict=True):  # type: ignore[arg-type]
            assert abs(value - angle) <= max(0.02, 3 * sigma)
    assert result.converged
