"""Bragg peak finding and matching on synthetic images."""

from __future__ import annotations

import numpy as np
import pytest

from nb_parity.peaks import (
    find_peaks,
    local_maxima,
    match_peaks,
    peak_threshold,
    robust_noise,
)

SPOTS = [(10, 12), (30, 40), (50, 8), (45, 55)]


def _image(
    spots: list[tuple[int, int]],
    *,
    shape: tuple[int, int] = (64, 64),
    noise: float = 0.0,
    background: float = 1.0,
    seed: int = 0,
) -> np.ndarray:
    """Gaussian spots (sigma 1 px, height 100) on a flat background (photons)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image = np.full(shape, background)
    for y, x in spots:
        image += 100.0 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 2.0)
    if noise:
        image += rng.normal(0.0, noise, shape)
    return image.astype(np.float32)


def test_robust_noise_ignores_spots() -> None:
    image = _image(SPOTS, noise=0.5)
    assert robust_noise(image) == pytest.approx(0.5, rel=0.1)
    assert robust_noise(np.zeros((8, 8))) == 0.0


def test_threshold_is_noise_or_fraction_of_max() -> None:
    noisy = _image(SPOTS, noise=2.0)
    assert peak_threshold(noisy) == pytest.approx(1.0 + 5 * robust_noise(noisy), rel=0.05)
    clean = _image(SPOTS, background=0.0)
    assert peak_threshold(clean) == pytest.approx(1e-3 * float(clean.max()), rel=1e-6)


def test_find_peaks_finds_every_spot_once() -> None:
    peaks = find_peaks(_image(SPOTS, noise=0.5, seed=3))
    assert sorted(map(tuple, peaks.tolist())) == sorted(SPOTS)


def test_local_maxima_uses_the_3x3_neighbourhood() -> None:
    image = np.zeros((5, 5))
    image[2, 2] = 3.0
    image[2, 3] = 2.0  # a shoulder, not a maximum
    image[0, 0] = 1.0  # a corner maximum
    assert local_maxima(image, 0.5).tolist() == [[0, 0], [2, 2]]
    assert local_maxima(image, 1.5).tolist() == [[2, 2]]


def test_identical_images_match_at_distance_zero() -> None:
    image = _image(SPOTS)
    m = match_peaks(image, image)
    assert (m.n_ref, m.n_test, m.matched, m.matched_test) == (4, 4, 4, 4)
    assert m.all_matched
    assert m.mean_distance == 0.0


def test_one_pixel_shift_matches_at_distance_one() -> None:
    ref = _image(SPOTS)
    test = _image([(y, x + 1) for y, x in SPOTS])
    m = match_peaks(test, ref)
    assert m.all_matched
    assert m.mean_distance == pytest.approx(1.0)
    assert m.max_distance == pytest.approx(1.0)


def test_diagonal_and_two_pixel_shifts_do_not_match_within_one_pixel() -> None:
    ref = _image(SPOTS)
    diagonal = match_peaks(_image([(y + 1, x + 1) for y, x in SPOTS]), ref)
    assert diagonal.matched == 0
    assert not diagonal.all_matched
    assert match_peaks(_image([(y + 1, x + 1) for y, x in SPOTS]), ref, radius=1.5).all_matched
    assert match_peaks(_image([(y, x + 2) for y, x in SPOTS]), ref).matched == 0


def test_missing_and_extra_peaks_are_reported() -> None:
    ref = _image(SPOTS)
    test = _image([*SPOTS[1:], (20, 20)])
    m = match_peaks(test, ref)
    assert (m.n_ref, m.n_test, m.matched, m.matched_test) == (4, 4, 3, 3)
    assert m.unmatched_ref == [SPOTS[0]]
    assert m.unmatched_test == [(20, 20)]
    assert not m.all_matched
    assert m.as_dict()["all_matched"] is False


def test_a_spot_just_below_threshold_still_counts_as_a_partner() -> None:
    ref = np.zeros((16, 16))
    ref[8, 8] = 100.0
    ref[3, 3] = 0.2  # above 1e-3 * max = 0.1
    test = ref.copy()
    test[3, 3] = 0.09  # below the threshold, above half of it
    m = match_peaks(test, ref)
    assert (m.n_ref, m.n_test, m.matched) == (2, 1, 2)
    assert m.all_matched


def test_shapes_must_agree() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        match_peaks(np.zeros((4, 4)), np.zeros((4, 5)))
